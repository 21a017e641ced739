// Selection by the kopiatomic:backup user property, and `kopiatomic jobs`' why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInventory } from '../../src/discover/inventory.js';
import { parseDatasetList } from '../../src/zfs/list.js';
import { propertySelects, select } from '../../src/plan/select.js';
import { explain, parseBackupSources, zfsGetBackupArgv } from '../../src/plan/why.js';
import { zfsRows } from './helpers.js';

test('propertySelects: on/true for every property job, off/false for none, else job names', () => {
  for (const v of ['on', 'true', 'ON', ' True ']) assert.equal(propertySelects(v, 'home'), true, v);
  for (const v of ['off', 'false', '', null, undefined]) assert.equal(propertySelects(v, 'home'), false, String(v));
  assert.equal(propertySelects('home', 'home'), true);
  assert.equal(propertySelects('db,home', 'home'), true);
  assert.equal(propertySelects('db, home ', 'home'), true);
  assert.equal(propertySelects('db', 'home'), false);
  assert.equal(propertySelects('homes', 'home'), false, 'whole names only');
});

// zfs list shows effective values: ZFS has already applied inheritance.
// tank/p is on, tank/p/new inherits it, tank/p/off is off, tank/p/off/back
// is on again (it says otherwise), tank/q names the db job only.
const LIST = zfsRows(
  ['tank\ton\tyes\t-\t/tank', 'tank/p\ton\tyes\t-\t/p', 'tank/p/new\ton\tyes\t-\t/p/new', 'tank/p/off\ton\tyes\t-\t/p/off', 'tank/p/off/back\ton\tyes\t-\t/p/off/back', 'tank/p/gone\tnoauto\tno\t-\t/p/gone', 'tank/q\ton\tyes\t-\t/q'].join('\n'),
  { 'tank/p': 'on', 'tank/p/new': 'on', 'tank/p/off': 'off', 'tank/p/off/back': 'on', 'tank/p/gone': 'on', 'tank/q': 'db' },
);
const inv = buildInventory(
  parseDatasetList(LIST),
  ['tank', 'tank/p', 'tank/p/new', 'tank/p/off', 'tank/p/off/back', 'tank/q'].map((s) => ({ source: s, target: s === 'tank' ? '/tank' : '/' + s.slice(5), fstype: 'zfs', root: '/' })),
);
const SOURCES = parseBackupSources(
  ['tank\t-\t-', 'tank/p\ton\tlocal', 'tank/p/new\ton\tinherited from tank/p', 'tank/p/off\toff\tlocal', 'tank/p/off/back\ton\tlocal', 'tank/p/gone\ton\tinherited from tank/p', 'tank/q\tdb\treceived'].join('\n') + '\n',
);

test('select by property: the effective value decides, off leaves descendants out unless they say otherwise', () => {
  const home = select(inv, { targets: [], all: false, recursive: false, excludes: [], property: 'home' });
  // tank/p/off/back says on, but tank/p/off (off) is mounted between it and
  // tank/p: its mount point is not inside tank/p's snapshot, so it is
  // skipped with that reason, never silently and never failing the job.
  assert.deepEqual(home.selected.map((d) => d.name), ['tank/p', 'tank/p/new']);
  assert.deepEqual(home.skipped.map((s) => s.dataset), ['tank/p/gone', 'tank/p/off/back']);
  assert.equal(home.skipped[0]!.reason, 'not mounted');
  assert.match(home.skipped[1]!.reason, /cannot be reached inside tank\/p's snapshot: the dataset tank\/p\/off is mounted at \/p\/off/);
  const db = select(inv, { targets: [], all: false, recursive: true, excludes: [], property: 'db' });
  assert.deepEqual(db.selected.map((d) => d.name), ['tank/p', 'tank/p/new', 'tank/q']);
  const ex = select(inv, { targets: [], all: false, recursive: false, excludes: [{ kind: 'dataset', name: 'tank/p/new' }], property: 'home' });
  assert.deepEqual(ex.selected.map((d) => d.name), ['tank/p']);
});

test('jobs explains each dataset: set locally, inherited from where, or left out by off', () => {
  assert.deepEqual(zfsGetBackupArgv(), ['zfs', 'get', '-H', '-p', '-t', 'filesystem', '-o', 'name,value,source', 'kopiatomic:backup']);
  const job = { job: 'home', property: true, all: false, recursive: false, targets: [] };
  const sel = select(inv, { targets: [], all: false, recursive: false, excludes: [], property: 'home' });
  assert.deepEqual(explain(job, inv, sel, SOURCES), [
    { dataset: 'tank/p', selected: true, why: 'kopiatomic:backup=on set locally' },
    { dataset: 'tank/p/new', selected: true, why: 'kopiatomic:backup=on inherited from tank/p' },
    { dataset: 'tank/p/gone', selected: false, why: 'not mounted' },
    { dataset: 'tank/p/off/back', selected: false, why: sel.skipped[1]!.reason },
    { dataset: 'tank/p/off', selected: false, why: 'kopiatomic:backup=off set locally' },
    { dataset: 'tank/q', selected: false, why: 'kopiatomic:backup=db (received)' },
  ]);
  const listed = { job: 'x', property: false, all: false, recursive: true, targets: ['tank/p'] };
  const sel2 = select(inv, { targets: [{ kind: 'dataset', name: 'tank/p' }], all: false, recursive: true, excludes: [] });
  assert.deepEqual(explain(listed, inv, sel2, new Map()).slice(0, 2), [
    { dataset: 'tank/p', selected: true, why: 'listed in datasets' },
    { dataset: 'tank/p/new', selected: true, why: 'below tank/p (recursive)' },
  ]);
});
