// Why a program that ran and exited non-zero failed, read from its own
// wording, per program, in this one place (the door in core/exec.ts calls
// it). Only zfs, mount and umount are read: the undo and recovery paths must
// tell "already gone" (not-found) and "in use, try again" (busy) from any
// other failure. Messages come from OpenZFS's libzfs (libzfs_util.c,
// libzfs_dataset.c, zfs_main.c), util-linux's libmount and FreeBSD's
// umount(8)/mount(8) (strerror of ENOENT, EBUSY, EINVAL).
import type { FailureReason } from './errors.js';

interface Wording {
  notFound: RegExp[];
  busy: RegExp[];
}

const TABLE: Record<string, Wording> = {
  zfs: {
    notFound: [
      /dataset does not exist/i, // cannot open 'pool/ds@snap': dataset does not exist
      /could not find any snapshots to destroy/i, // zfs destroy of a name nothing has
      /no such tag on this dataset/i, // zfs release of a hold that is not there
      /no such pool or dataset/i, // EZFS_NOENT
      /no such pool\b/i,
    ],
    busy: [/dataset is busy/i, /pool or dataset is busy/i, /device busy/i],
  },
  umount: {
    notFound: [
      /: not mounted/i, // util-linux and FreeBSD: "umount: /x: not mounted."
      /no mount point specified/i, // util-linux, ENOENT from umount(2)
      /mountpoint not found/i, // util-linux
      /: not found\b/i, // util-linux for a path that does not exist
      /not a file system root directory/i, // FreeBSD, EINVAL: nothing mounted there
      /no such file or directory/i, // FreeBSD statfs(2) ENOENT
    ],
    busy: [/target is busy/i, /device (or resource )?busy/i],
  },
  mount: {
    notFound: [
      /mount point does not exist/i, // util-linux
      /special device .* does not exist/i, // util-linux
      /dataset does not exist/i, // mount.zfs via libzfs
      /unable to open the dataset/i, // mount.zfs: "filesystem 'x' cannot be mounted, unable to open the dataset"
      /no such file or directory/i, // FreeBSD
    ],
    busy: [/target is busy/i, /device (or resource )?busy/i, /is busy/i],
  },
};

/** The reason for a program that ran and exited non-zero with this stderr. */
export function classifyExit(argv0: string, stderr: string): FailureReason {
  const w = TABLE[argv0.split('/').pop()!];
  if (!w) return 'failed';
  if (w.notFound.some((r) => r.test(stderr))) return 'not-found';
  if (w.busy.some((r) => r.test(stderr))) return 'busy';
  return 'failed';
}

/** The reason for a program that could not be started (spawn's error or throw). */
export function classifySpawn(code: string | undefined): FailureReason {
  return code === 'ENOENT' ? 'program-missing' : 'spawn-failed';
}
