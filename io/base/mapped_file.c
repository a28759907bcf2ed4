/* io/base/mapped_file.c -- read-only whole-file mappings. */
#include "io/base/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int mf_map(const char *path, size_t min_bytes, const char *what, MappedFile *mf, Err *err) {
    *mf = (MappedFile){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((size_t)sb.st_size < min_bytes) {
        close(fd);
        return err_set(err, "%s: %lld bytes, shorter than %s", path, (long long)sb.st_size,
                       what);
    }
    /* a zero-byte mapping is invalid; min_bytes > 0 in every caller keeps us off it */
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mmap_errno = errno;
    close(fd); /* the mapping keeps the file alive */
    if (p == MAP_FAILED)
        return err_set(err, "%s: mmap of %lld bytes failed: %s", path, (long long)sb.st_size,
                       strerror(mmap_errno));
    mf->data = p;
    mf->n_bytes = (size_t)sb.st_size;
    return 0;
}

void mf_unmap(MappedFile *mf) {
    if (mf->data != NULL)
        munmap((void *)mf->data, mf->n_bytes);
    *mf = (MappedFile){0};
}
