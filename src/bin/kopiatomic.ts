#!/usr/bin/env node
import { KOPIATOMIC } from '../cli/args.js';
import { main } from '../cli/main.js';

process.exitCode = await main(process.argv.slice(2), KOPIATOMIC);
