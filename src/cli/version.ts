// pstc's version: what `--version` prints and what keys caches made by this build.
export const PSTC_VERSION = '0.1.0';
