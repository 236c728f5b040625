/** Training: the Trainer, its arguments, schedules, checkpoints, logs and report. */
export { Trainer, LOG_FILE, REPORT_FILE } from './trainer.js';
export type { TrainerOptions, TrainerCallbacks, TrainResult } from './trainer.js';
export { resolveArgs } from './args.js';
export type { TrainingArgs, ResolvedArgs, EarlyStoppingArgs, IntervalStrategy } from './args.js';
export { learningRateAt, scheduleFactor, resolveWarmupSteps, SCHEDULES } from './schedule.js';
export type { Schedule, ScheduleName } from './schedule.js';
export {
  writeCheckpoint, listCheckpoints, latestCheckpoint, rotateCheckpoints, readTrainerState, cleanStaleCheckpoints, deleteCheckpoint,
  TRAINER_STATE_FILE, OPTIMIZER_FILE, MODEL_FILE,
} from './checkpoint.js';
export type { TrainerState, CheckpointInfo } from './checkpoint.js';
export { JsonlLog, readJsonlLog } from './log.js';
export type { LogRecord, TrainLogRecord, EvalLogRecord, SaveLogRecord, NonFiniteLogRecord, EndLogRecord, ErrorLogRecord } from './log.js';
export { lockOutputDir, LOCK_NAME, LOCK_OWNER_FILE } from './lock.js';
export type { OutputDirLock, LockOptions, LockOwner } from './lock.js';
export { TrainingProgress } from './progress.js';
export type { ProgressMode } from './progress.js';
export { renderReport, writeReport, lineChart } from './report.js';
export type { ReportData, ReportSection } from './report.js';
