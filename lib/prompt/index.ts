/** Prompt learning's building blocks: cloze templates, verbalizers and few-shot sampling. */
export { PromptTemplate, fitLengths } from './template.js';
export type { TemplatePart, PromptInput, Demonstration, RenderOptions, RenderedPrompt } from './template.js';
export { Verbalizer } from './verbalizer.js';
export type { VerbalizerIds, ResolveOptions } from './verbalizer.js';
export { sampleFewShot } from './sampler.js';
export type { FewShotOptions, FewShotSplit } from './sampler.js';
