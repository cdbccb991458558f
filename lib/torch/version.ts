// The libtorch the addon was built against. Most of torchkd is the same on every version; where PyTorch
// changed a behaviour implemented in Python (and so re-implemented here), the TS side asks this.
import { N } from './native';

/** The libtorch release, as torch.__version__ without the local part: '1.13.0', '2.13.0'. */
export const __version__: string = N.buildInfo().torchVersion;

const [major, minor] = __version__.split('.').map(Number);

/** Whether the libtorch is at least major.minor. */
export function versionAtLeast(wantMajor: number, wantMinor: number): boolean {
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}
