/*
 * LD_PRELOAD shim for the copy-mode tests: injects the failures a real disk
 * gives rarely and at the worst moment, only for paths that hold a marker.
 *
 *   FAULT_WRITE_PATH=<s>  writes to a file whose path holds <s> fail with
 *                         ENOSPC ("no space left on device"): write, pwrite,
 *                         writev, pwritev, sendfile, copy_file_range, and the
 *                         raw syscall(SYS_copy_file_range) libuv's
 *                         fs.copyFile uses on Linux.
 *   FAULT_WRITE_ERRNO=EIO makes those writes fail with EIO ("input/output
 *                         error", a failing disk) instead.
 *   FAULT_OPEN_PATH=<s>   opening a path that holds <s> fails with ENOENT, as
 *                         when a folder vanishes between a look and a copy.
 *   FAULT_SLOW_PATH=<s>   copying into a file whose path holds <s> first sleeps
 *   FAULT_SLOW_US=<n>     <n> microseconds (a slow disk, for the progress line).
 *   FAULT_LINK_PATH=<s>   a hard link made at a path that holds <s> fails with
 *                         EPERM, as on a file system without hard links (vfat,
 *                         some network mounts): link, linkat.
 *
 * The written file's path is read from /proc/self/fd/<fd>.
 * Build: cc -shared -fPIC -o faults.so faults.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int fd_matches(int fd, const char *marker) {
  if (marker == NULL || marker[0] == '\0' || fd < 0) return 0;
  char link[64];
  char target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int saved = errno;
  ssize_t n = readlink(link, target, sizeof target - 1);
  errno = saved;
  if (n <= 0) return 0;
  target[n] = '\0';
  return strstr(target, marker) != NULL;
}

/* Nonzero when a write to `fd` must fail (errno is set). */
static int refuse_write(int fd) {
  if (fd <= 2) return 0;
  if (fd_matches(fd, getenv("FAULT_WRITE_PATH"))) {
    const char *which = getenv("FAULT_WRITE_ERRNO");
    errno = (which != NULL && strcmp(which, "EIO") == 0) ? EIO : ENOSPC;
    return 1;
  }
  return 0;
}

static void maybe_slow(int fd) {
  const char *us = getenv("FAULT_SLOW_US");
  if (us != NULL && fd > 2 && fd_matches(fd, getenv("FAULT_SLOW_PATH"))) usleep((useconds_t)atol(us));
}

static int refuse_open(const char *path) {
  const char *marker = getenv("FAULT_OPEN_PATH");
  if (path != NULL && marker != NULL && marker[0] != '\0' && strstr(path, marker) != NULL) {
    errno = ENOENT;
    return 1;
  }
  return 0;
}

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* The next definition of `name` (libc's), looked up once. */
#define REAL(name) static __typeof__(&name) real_##name; if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t count) {
  REAL(write);
  if (refuse_write(fd)) return -1;
  return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  REAL(pwrite);
  if (refuse_write(fd)) return -1;
  return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
  REAL(pwrite64);
  if (refuse_write(fd)) return -1;
  return real_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  REAL(writev);
  if (refuse_write(fd)) return -1;
  return real_writev(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  REAL(pwritev);
  if (refuse_write(fd)) return -1;
  return real_pwritev(fd, iov, iovcnt, offset);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count) {
  REAL(sendfile);
  if (refuse_write(out_fd)) return -1;
  maybe_slow(out_fd);
  return real_sendfile(out_fd, in_fd, offset, count);
}

ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count) {
  REAL(sendfile64);
  if (refuse_write(out_fd)) return -1;
  maybe_slow(out_fd);
  return real_sendfile64(out_fd, in_fd, offset, count);
}

ssize_t copy_file_range(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len, unsigned int flags) {
  REAL(copy_file_range);
  if (refuse_write(fd_out)) return -1;
  maybe_slow(fd_out);
  return real_copy_file_range(fd_in, off_in, fd_out, off_out, len, flags);
}

/* libuv calls syscall(__NR_copy_file_range, ...) itself rather than the libc wrapper. */
long syscall(long number, ...) {
  REAL(syscall);
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
#ifdef SYS_copy_file_range
  if (number == SYS_copy_file_range) {
    if (refuse_write((int)a3)) return -1;
    maybe_slow((int)a3);
  }
#endif
  return real_syscall(number, a1, a2, a3, a4, a5, a6);
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  REAL(open);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_open(path)) return -1;
  return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
  REAL(open64);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_open(path)) return -1;
  return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  REAL(openat);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_open(path)) return -1;
  return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  REAL(openat64);
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  if (refuse_open(path)) return -1;
  return real_openat64(dirfd, path, flags, mode);
}

/* The fortified entry points a -D_FORTIFY_SOURCE build may call instead. */
int __open_2(const char *path, int flags) {
  REAL(__open_2);
  if (refuse_open(path)) return -1;
  return real___open_2(path, flags);
}

int __open64_2(const char *path, int flags) {
  REAL(__open64_2);
  if (refuse_open(path)) return -1;
  return real___open64_2(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags) {
  REAL(__openat_2);
  if (refuse_open(path)) return -1;
  return real___openat_2(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags) {
  REAL(__openat64_2);
  if (refuse_open(path)) return -1;
  return real___openat64_2(dirfd, path, flags);
}

static int refuse_link(const char *newpath) {
  const char *marker = getenv("FAULT_LINK_PATH");
  if (newpath != NULL && marker != NULL && marker[0] != '\0' && strstr(newpath, marker) != NULL) {
    errno = EPERM;
    return 1;
  }
  return 0;
}

int link(const char *oldpath, const char *newpath) {
  static int (*real)(const char *, const char *) = NULL;
  if (!real) real = dlsym(RTLD_NEXT, "link");
  if (refuse_link(newpath)) return -1;
  return real(oldpath, newpath);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
  static int (*real)(int, const char *, int, const char *, int) = NULL;
  if (!real) real = dlsym(RTLD_NEXT, "linkat");
  if (refuse_link(newpath)) return -1;
  return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
