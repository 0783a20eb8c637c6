/** The admin token the e2e server runs with (LAB_ADMIN_TOKEN in playwright.config.ts): a test-only value, never a real lab's. */
export const E2E_ADMIN_TOKEN = 'e2e-admin-token-not-a-secret-0123456789';
