export interface PeerPython { exe: string; torch: string; transformers: string | null; cuda: boolean }
export function probePythons(): { hf: PeerPython | null; torchOnly: PeerPython | null };
export function findHfPython(): PeerPython | null;
