/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // The site imports lab-backend/src/content.ts (node:fs, gray-matter) from server
  // components; Next compiles it like app code. node-pty is a native addon the
  // backend uses: never bundle it if anything server-side ever reaches it.
  serverExternalPackages: ['node-pty'],
  // The custom server (scripts/start.sh) mounts /lab-api/* itself.
  poweredByHeader: false,
  turbopack: {
    ignoreIssue: [
      // content.ts reads LAB_CONTENT_DIR at runtime by design; the "whole project is
      // traced" warning only matters for standalone deploy bundles, which we don't use.
      { path: '**/lab-backend/src/content.ts', title: /Dynamic filesystem access/ },
    ],
  },
};

export default nextConfig;
