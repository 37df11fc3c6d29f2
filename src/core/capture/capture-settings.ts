import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaptureSettings } from '../../shared/contract/sessions';

/** The owner's capture settings (unattended GNOME sharing), in this user's config folder. */
export class CaptureSettingsStore {
  private readonly file: string;

  constructor(private readonly configDir: string) {
    this.file = join(configDir, 'capture-settings.json');
  }

  async read(): Promise<CaptureSettings> {
    try {
      const parsed = CaptureSettings.safeParse(JSON.parse(await readFile(this.file, 'utf8')));
      return parsed.success ? parsed.data : { unattendedGnome: false };
    } catch {
      return { unattendedGnome: false };
    }
  }

  async write(settings: CaptureSettings): Promise<void> {
    await mkdir(this.configDir, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(CaptureSettings.parse(settings))}\n`, { mode: 0o600 });
    await rename(temporary, this.file);
  }
}
