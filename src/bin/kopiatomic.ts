#!/usr/bin/env node
import { KOPIATOMIC } from '../config/job.js';
import { main } from '../cli/main.js';
import { exitAfterSignal } from './exit.js';

void main(process.argv.slice(2), KOPIATOMIC).then(exitAfterSignal);
