/*
 * db_vfs.c - a pass-through SQLite VFS that counts xSync calls.
 *
 * Durable acknowledgement costs fsyncs; group commit exists to share them.
 * Counting them where SQLite issues them gives an exact "syncs per
 * acknowledgement" figure for /metrics and bench/ingest, with no tracing
 * overhead. Everything else is forwarded to the default (unix) VFS.
 */
#include "db_store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

#define VFS_NAME "liandong"

struct cfile {
	sqlite3_file base;  /* must be first */
	sqlite3_file *real; /* the default VFS's file, allocated right after us */
};

static sqlite3_vfs vfs;
static sqlite3_vfs *parent;
static atomic_uint_fast64_t syncs;

#define REAL(f) (((struct cfile *)(f))->real)

static int c_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{ return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{ return REAL(f)->pMethods->xWrite(REAL(f), b, n, o); }
static int c_truncate(sqlite3_file *f, sqlite3_int64 n)
{ return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int c_sync(sqlite3_file *f, int flags)
{
	atomic_fetch_add(&syncs, 1);
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int c_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int c_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int c_reserved(sqlite3_file *f, int *r)
{ return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int c_fcntl(sqlite3_file *f, int op, void *a)
{ return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int c_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int c_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int c_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{ return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp); }
static int c_shmlock(sqlite3_file *f, int off, int n, int fl)
{ return REAL(f)->pMethods->xShmLock(REAL(f), off, n, fl); }
static void c_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int c_shmunmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{ return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp); }
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{ return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods methods = {
	.iVersion = 3,
	.xClose = c_close, .xRead = c_read, .xWrite = c_write, .xTruncate = c_truncate,
	.xSync = c_sync, .xFileSize = c_size, .xLock = c_lock, .xUnlock = c_unlock,
	.xCheckReservedLock = c_reserved, .xFileControl = c_fcntl, .xSectorSize = c_sector,
	.xDeviceCharacteristics = c_devchar, .xShmMap = c_shmmap, .xShmLock = c_shmlock,
	.xShmBarrier = c_shmbarrier, .xShmUnmap = c_shmunmap, .xFetch = c_fetch,
	.xUnfetch = c_unfetch,
};

static int
c_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct cfile *cf = (struct cfile *)f;
	cf->real = (sqlite3_file *)(cf + 1);
	int rc = parent->xOpen(parent, name, cf->real, flags, out_flags);
	/* SQLite calls xClose only when pMethods is set: mirror the real file. */
	cf->base.pMethods = cf->real->pMethods ? &methods : NULL;
	return rc;
}

static int c_delete(sqlite3_vfs *v, const char *n, int s) { return parent->xDelete(parent, n, s); }
static int c_access(sqlite3_vfs *v, const char *n, int fl, int *r)
{ return parent->xAccess(parent, n, fl, r); }
static int c_fullpath(sqlite3_vfs *v, const char *n, int len, char *out)
{ return parent->xFullPathname(parent, n, len, out); }
static void *c_dlopen(sqlite3_vfs *v, const char *n) { return parent->xDlOpen(parent, n); }
static void c_dlerror(sqlite3_vfs *v, int n, char *m) { parent->xDlError(parent, n, m); }
static void (*c_dlsym(sqlite3_vfs *v, void *h, const char *s))(void)
{ return parent->xDlSym(parent, h, s); }
static void c_dlclose(sqlite3_vfs *v, void *h) { parent->xDlClose(parent, h); }
static int c_random(sqlite3_vfs *v, int n, char *b) { return parent->xRandomness(parent, n, b); }
static int c_sleep(sqlite3_vfs *v, int us) { return parent->xSleep(parent, us); }
static int c_time(sqlite3_vfs *v, double *t) { return parent->xCurrentTime(parent, t); }
static int c_lasterr(sqlite3_vfs *v, int n, char *b) { return parent->xGetLastError(parent, n, b); }
static int c_time64(sqlite3_vfs *v, sqlite3_int64 *t) { return parent->xCurrentTimeInt64(parent, t); }

static void
register_once(void)
{
	parent = sqlite3_vfs_find(NULL);
	vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct cfile) + parent->szOsFile,
		.mxPathname = parent->mxPathname,
		.zName = VFS_NAME,
		.xOpen = c_open, .xDelete = c_delete, .xAccess = c_access,
		.xFullPathname = c_fullpath, .xDlOpen = c_dlopen, .xDlError = c_dlerror,
		.xDlSym = c_dlsym, .xDlClose = c_dlclose, .xRandomness = c_random,
		.xSleep = c_sleep, .xCurrentTime = c_time, .xGetLastError = c_lasterr,
		.xCurrentTimeInt64 = c_time64,
	};
	sqlite3_vfs_register(&vfs, 0);
}

const char *
db_vfs_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_once);
	return VFS_NAME;
}

uint64_t
db_vfs_syncs(void)
{
	return atomic_load(&syncs);
}
