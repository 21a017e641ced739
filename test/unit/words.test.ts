import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { splitWords } from '../../src/core/words.js';

test('splitWords: whitespace separates, runs of it count once', () => {
  assert.deepEqual(splitWords('  kopia   snapshot\tcreate \n'), ['kopia', 'snapshot', 'create']);
  assert.deepEqual(splitWords(''), []);
  assert.deepEqual(splitWords('   '), []);
});

test('splitWords: single quotes keep everything literally', () => {
  assert.deepEqual(splitWords(`--tag 'a b' '$HOME' 'x\\y'`), ['--tag', 'a b', '$HOME', 'x\\y']);
});

test('splitWords: double quotes group; backslash escapes only " \\ $ `', () => {
  assert.deepEqual(splitWords(`"a b" "say \\"hi\\"" "back\\\\slash" "\\$x" "keep\\n"`), ['a b', 'say "hi"', 'back\\slash', '$x', 'keep\\n']);
});

test('splitWords: quotes join with adjacent text; empty quotes make an empty word', () => {
  assert.deepEqual(splitWords(`--exclude="*.tmp" pre'mid'"post"`), ['--exclude=*.tmp', 'premidpost']);
  assert.deepEqual(splitWords(`a '' b ""`), ['a', '', 'b', '']);
  assert.deepEqual(splitWords(`'it'\\''s'`), [`it's`]);
});

test('splitWords: a backslash outside quotes escapes the next character', () => {
  assert.deepEqual(splitWords('a\\ b c\\"d \\\\'), ['a b', 'c"d', '\\']);
});

test('splitWords: no expansion of variables or globs', () => {
  assert.deepEqual(splitWords('$HOME *.txt ~ $(date)'), ['$HOME', '*.txt', '~', '$(date)']);
});

test('splitWords: an unbalanced quote is a usage error', () => {
  assert.throws(() => splitWords(`restic "backup`), (e: unknown) => e instanceof UsageError && /unbalanced " quote/.test(e.message));
  assert.throws(() => splitWords(`it's`), (e: unknown) => e instanceof UsageError && /unbalanced ' quote/.test(e.message));
});
