// PyTorch's UserWarnings: printed once per process (Python's default filter prints each once per call site),
// through process.emitWarning so `node --no-warnings` and process.on('warning') work as usual.
const seen = new Set<string>();

/** Emits a UserWarning the first time this message is seen in the process. */
export function warnOnce(message: string): void {
  if (seen.has(message)) return;
  seen.add(message);
  process.emitWarning(message, 'UserWarning');
}
