import { UsageError } from '../core/errors.js';
import { freebsd } from './freebsd.js';
import { linux } from './linux.js';
import type { Platform } from './platform.js';

export function platformFor(name: string = process.platform): Platform {
  if (name === 'linux') return linux;
  if (name === 'freebsd') return freebsd;
  throw new UsageError(`unsupported platform ${name}: kopiatomic runs on Linux and FreeBSD`);
}
