// ESLint flat config (ESLint 9). `npm test` runs it first, then `prettier --check .`.
// Not type-aware on purpose: it stays fast and needs no tsconfig project service.
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import nextPlugin from '@next/eslint-plugin-next';
import prettier from 'eslint-config-prettier';

export default defineConfig(
  {
    ignores: [
      '.next/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      'bench-results/',
      '.lab/',
      'public/',
      'next-env.d.ts',
      // The C sources and shell files built into the sandbox images.
      'lab-backend/images/',
    ],
  },

  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a parameter as deliberately unused (an interface's
      // default implementation, a callback's position): the codebase's convention.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },

  // React's rules of hooks, for the site's React code.
  {
    files: ['app/**/*.{ts,tsx}', 'components/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },

  // Next's recommended and Core Web Vitals rules, for the Next app.
  {
    files: ['app/**/*.{ts,tsx}', 'components/**/*.{ts,tsx}'],
    plugins: { '@next/next': nextPlugin },
    rules: {
      ...nextPlugin.configs.recommended.rules,
      ...nextPlugin.configs['core-web-vitals'].rules,
    },
  },

  // Turns off every stylistic rule that Prettier owns; keep it last.
  prettier,
);
