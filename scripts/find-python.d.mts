export function findTorchPython(): { exe: string; torchVersion: string } | null;
