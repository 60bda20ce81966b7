/*
 * LD_PRELOAD shim for the tests: symlink() and symlinkat() fail with EPERM,
 * as on Windows without the link privilege or on a file system without links.
 * DENY_SYMLINK=relative refuses only relative targets, so absolute links
 * (what a junction is) still work: that exercises the junction fallback.
 * Build: cc -shared -fPIC -o deny-symlink.so deny-symlink.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int refused(const char *target) {
  const char *what = getenv("DENY_SYMLINK");
  if (what != NULL && strcmp(what, "relative") == 0) return target[0] != '/';
  return 1;
}

int symlink(const char *target, const char *linkpath) {
  if (refused(target)) { errno = EPERM; return -1; }
  int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "symlink");
  return real(target, linkpath);
}

int symlinkat(const char *target, int dirfd, const char *linkpath) {
  if (refused(target)) { errno = EPERM; return -1; }
  int (*real)(const char *, int, const char *) = (int (*)(const char *, int, const char *))dlsym(RTLD_NEXT, "symlinkat");
  return real(target, dirfd, linkpath);
}
