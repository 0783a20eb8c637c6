/** Builds (or finds cached) every image the course's lessons name. Usage: npm run images */
import { loadConfig } from '../lab-backend/src/config';
import { loadCourse } from '../lab-backend/src/content';
import { ensureImage, imageReady } from '../lab-backend/src/images';

async function main() {
  const config = loadConfig();
  // The images of the lessons whose runtime is enabled (plus base, which tests use).
  const names = new Set((await loadCourse(config.contentDir)).filter((l) => config.runtimes.includes(l.runtime)).map((l) => l.image));
  names.add('base');
  for (const name of names) {
    if (imageReady(config.imageDir, name)) {
      console.log(`[images] ${name}: cached`);
      continue;
    }
    await ensureImage(config.imageDir, name, (line) => console.log(`[images] ${line}`));
  }
}
main().catch((err) => {
  console.error(`[images] ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
