/*
 * LD_PRELOAD shim for the tests: symlink() and symlinkat() fail with EPERM,
 * as on Windows without the link privilege or on a file system without links.
 * DENY_SYMLINK=relative refuses only relative targets, so absolute links
 * (what a junction is) still work: that exercises the junction fallback.
 * DENY_SYMLINK=misdirect:<text> refuses nothing but writes <text> in place of
 * the target asked for: a file system that makes the wrong link, for the check
 * after each link is made.
 * Build: cc -shared -fPIC -o deny-symlink.so deny-symlink.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The text to write instead of the one asked for (DENY_SYMLINK=misdirect:<text>), else NULL. */
static const char *misdirected(void) {
  const char *what = getenv("DENY_SYMLINK");
  return what != NULL && strncmp(what, "misdirect:", 10) == 0 ? what + 10 : NULL;
}

static int occupies(void) {
  const char *what = getenv("DENY_SYMLINK");
  return what != NULL && strcmp(what, "occupy") == 0;
}

static int refused(const char *target) {
  if (misdirected() != NULL || occupies()) return 0;
  const char *what = getenv("DENY_SYMLINK");
  if (what != NULL && strcmp(what, "relative") == 0) return target[0] != '/';
  return 1;
}

int symlink(const char *target, const char *linkpath) {
  if (refused(target)) { errno = EPERM; return -1; }
  if (occupies()) { mkdir(linkpath, 0755); errno = EEXIST; return -1; }
  int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "symlink");
  return real(misdirected() != NULL ? misdirected() : target, linkpath);
}

int symlinkat(const char *target, int dirfd, const char *linkpath) {
  if (refused(target)) { errno = EPERM; return -1; }
  if (occupies()) { mkdirat(dirfd, linkpath, 0755); errno = EEXIST; return -1; }
  int (*real)(const char *, int, const char *) = (int (*)(const char *, int, const char *))dlsym(RTLD_NEXT, "symlinkat");
  return real(misdirected() != NULL ? misdirected() : target, dirfd, linkpath);
}
