/** tsvm-img's failures: one line on stderr, prefixed "tsvm-img: ", and qemu-img's exit status. */

export class ImgError extends Error {
  override name = 'ImgError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
