import { readStamp, STAMP_STRIP_BYTES, STAMP_STRIP_HEIGHT, STAMP_STRIP_WIDTH } from '../../../shared/stamp-code';

/**
 * Reads the capture stamp off a shown video frame: the strip's 256×32 pixels below the picture, as gray.
 * Where WebCodecs can copy the decoded frame (I420/NV12), the strip's luma comes straight from it (no
 * conversion of the whole picture: at 720p60 the canvas path costs the page frames); else they are drawn
 * into a small canvas and read back. null: the stamp is unreadable (a damaged frame).
 */
export class StampCanvas {
  private canvas: HTMLCanvasElement | null = null;
  private context: CanvasRenderingContext2D | null = null;
  private readonly gray = new Uint8Array(STAMP_STRIP_BYTES);
  /** Room for the strip's planes as copyTo writes them (luma first, then chroma). */
  private readonly planes = new Uint8Array(STAMP_STRIP_BYTES * 2);
  private lumaWorks = typeof VideoFrame !== 'undefined';
  private lumaRead = false;
  private lumaFailures = 0;

  /** How the last stamp was read. */
  get path(): 'luma' | 'canvas' {
    return this.lumaWorks ? 'luma' : 'canvas';
  }

  async read(video: HTMLVideoElement): Promise<number | null> {
    if (video.videoHeight < STAMP_STRIP_HEIGHT || video.videoWidth < STAMP_STRIP_WIDTH) return null;
    if (this.lumaWorks) {
      const luma = await this.readLuma(video).catch(() => undefined);
      if (luma !== undefined) {
        this.lumaRead = true;
        return luma;
      }
      // a frame now and then may not copy (the first ones, a resize): give up on the path only when it never worked
      this.lumaFailures += 1;
      if (!this.lumaRead && this.lumaFailures >= 30) this.lumaWorks = false;
    }
    return this.readCanvas(video);
  }

  /** undefined: this frame cannot be copied (a GPU texture, another format): the canvas path from now on. */
  private async readLuma(video: HTMLVideoElement): Promise<number | null | undefined> {
    const frame = new VideoFrame(video);
    try {
      if (!frame.format || !/^(I420|NV12)/.test(frame.format)) return undefined;
      await frame.copyTo(this.planes, { rect: { x: 0, y: frame.codedHeight - STAMP_STRIP_HEIGHT, width: STAMP_STRIP_WIDTH, height: STAMP_STRIP_HEIGHT } });
    } finally {
      frame.close();
    }
    const read = readStamp(this.planes.subarray(0, STAMP_STRIP_BYTES));
    return read.ok ? read.ms : null;
  }

  private readCanvas(video: HTMLVideoElement): number | null {
    if (!this.context) {
      this.canvas = document.createElement('canvas');
      this.canvas.width = STAMP_STRIP_WIDTH;
      this.canvas.height = STAMP_STRIP_HEIGHT;
      this.context = this.canvas.getContext('2d', { willReadFrequently: true })!;
    }
    const height = video.videoHeight;
    this.context.drawImage(video, 0, height - STAMP_STRIP_HEIGHT, STAMP_STRIP_WIDTH, STAMP_STRIP_HEIGHT, 0, 0, STAMP_STRIP_WIDTH, STAMP_STRIP_HEIGHT);
    const rgba = this.context.getImageData(0, 0, STAMP_STRIP_WIDTH, STAMP_STRIP_HEIGHT).data;
    for (let i = 0; i < STAMP_STRIP_BYTES; i += 1) this.gray[i] = (rgba[i * 4]! + rgba[i * 4 + 1]! + rgba[i * 4 + 2]!) / 3;
    const read = readStamp(this.gray);
    return read.ok ? read.ms : null;
  }
}
