/** `aimctl --version`; version.test.ts keeps it equal to package.json's. */
export const AIMCTL_VERSION = '0.1.0';
