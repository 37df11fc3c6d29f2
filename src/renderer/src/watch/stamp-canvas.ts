import { readStamp, STAMP_STRIP_BYTES, STAMP_STRIP_HEIGHT, STAMP_STRIP_WIDTH } from '../../../shared/stamp-code';

/**
 * Reads the capture stamp off a shown video frame: the strip's 256×32 pixels below the picture are drawn
 * into a small canvas and read back as gray. null: the stamp is unreadable (a damaged frame).
 */
export class StampCanvas {
  private readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly gray = new Uint8Array(STAMP_STRIP_BYTES);

  constructor() {
    this.canvas = document.createElement('canvas');
    this.canvas.width = STAMP_STRIP_WIDTH;
    this.canvas.height = STAMP_STRIP_HEIGHT;
    this.context = this.canvas.getContext('2d', { willReadFrequently: true })!;
  }

  read(video: HTMLVideoElement): number | null {
    const height = video.videoHeight;
    if (height < STAMP_STRIP_HEIGHT || video.videoWidth < STAMP_STRIP_WIDTH) return null;
    this.context.drawImage(video, 0, height - STAMP_STRIP_HEIGHT, STAMP_STRIP_WIDTH, STAMP_STRIP_HEIGHT, 0, 0, STAMP_STRIP_WIDTH, STAMP_STRIP_HEIGHT);
    const rgba = this.context.getImageData(0, 0, STAMP_STRIP_WIDTH, STAMP_STRIP_HEIGHT).data;
    for (let i = 0; i < STAMP_STRIP_BYTES; i += 1) this.gray[i] = (rgba[i * 4]! + rgba[i * 4 + 1]! + rgba[i * 4 + 2]!) / 3;
    const read = readStamp(this.gray);
    return read.ok ? read.ms : null;
  }
}
