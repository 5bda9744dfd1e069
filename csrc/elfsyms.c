/* elfsyms.c -- finds local (file-static) variables of a loaded ELF object by
 * reading the .symtab of its file on disk.
 *
 * What it reads: the program headers of the loaded objects (dl_iterate_phdr,
 * to find the object that holds a known exported symbol and its load bias),
 * then that object's file, mapped read-only: the ELF header, the section
 * headers, .symtab and its string table.  It never reads the process's own
 * memory through a symbol's address; it only computes addresses.
 *
 * Why that is safe: every offset and size taken from the file is checked
 * against the file's size before it is used, and a symbol is accepted only
 * when (1) it is a local STT_OBJECT listed after the wanted STT_FILE entry,
 * (2) its size is the one the caller expects, and (3) the file is proven to
 * be the loaded object: each exported symbol the caller knows lies at
 * load bias + st_value.  A stripped file (no .symtab), a replaced file, an
 * LTO-renamed symbol or an unexpected size makes the lookup fail with a
 * sentence that says which, and the caller falls back or refuses.
 *
 * Nothing here allocates from Python: mmap/munmap and libc only.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1    /* dl_iterate_phdr */
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsyms.h"

#if UINTPTR_MAX == 0xffffffffffffffffu
#  define MV_ELF_CLASS ELFCLASS64
#  define MV_ST_TYPE(info) ELF64_ST_TYPE(info)
#  define MV_ST_BIND(info) ELF64_ST_BIND(info)
#else
#  define MV_ELF_CLASS ELFCLASS32
#  define MV_ST_TYPE(info) ELF32_ST_TYPE(info)
#  define MV_ST_BIND(info) ELF32_ST_BIND(info)
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#  define MV_ELF_DATA ELFDATA2MSB
#else
#  define MV_ELF_DATA ELFDATA2LSB
#endif

static int
fail(char *why, size_t why_size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(why, why_size, format, args);
    va_end(args);
    return -1;
}

/* The loaded object whose PT_LOAD segments contain `address`. */
typedef struct {
    uintptr_t address;
    int found;
    uintptr_t bias;
    char path[4096];
} object_search;

static int
find_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    object_search *search = data;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) {
            continue;
        }
        uintptr_t start = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
        if (search->address >= start && search->address - start < (uintptr_t)ph->p_memsz) {
            const char *name = info->dlpi_name;
            search->found = 1;
            search->bias = (uintptr_t)info->dlpi_addr;
            if (name != NULL && name[0] != '\0') {
                snprintf(search->path, sizeof search->path, "%s", name);
                return 1;
            }
            /* The main program has no name here: its file is /proc/self/exe. */
            ssize_t n = readlink("/proc/self/exe", search->path, sizeof search->path - 1);
            if (n <= 0) {
                snprintf(search->path, sizeof search->path, "/proc/self/exe");
                n = (ssize_t)strlen(search->path);
            }
            search->path[n] = '\0';
            return 1;
        }
    }
    return 0;
}

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash == NULL ? path : slash + 1;
}

/* A NUL-terminated name inside the string table, or NULL. */
static const char *
string_at(const char *strtab, size_t strsize, size_t offset)
{
    if (offset >= strsize || memchr(strtab + offset, '\0', strsize - offset) == NULL) {
        return NULL;
    }
    return strtab + offset;
}

static int
in_file(size_t file_size, uint64_t offset, uint64_t size)
{
    return offset <= file_size && size <= file_size - offset;
}

static int
scan_symbols(const unsigned char *image, size_t file_size, uintptr_t bias, const char *path,
             const mv_elf_known *known, size_t nknown, const char *source_file,
             mv_elf_wanted *wanted, size_t nwanted, char *why, size_t why_size)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)image;
    if (file_size < sizeof(ElfW(Ehdr)) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
        return fail(why, why_size, "%s is not an ELF file", path);
    }
    if (eh->e_ident[EI_CLASS] != MV_ELF_CLASS || eh->e_ident[EI_DATA] != MV_ELF_DATA) {
        return fail(why, why_size, "%s is an ELF file of another word size or byte order", path);
    }
    if (eh->e_shentsize != sizeof(ElfW(Shdr))
        || !in_file(file_size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)))) {
        return fail(why, why_size, "%s has a malformed section header table", path);
    }
    const ElfW(Shdr) *sections = (const ElfW(Shdr) *)(image + eh->e_shoff);
    const ElfW(Shdr) *symtab = NULL;
    for (size_t i = 0; i < eh->e_shnum; i++) {
        if (sections[i].sh_type == SHT_SYMTAB) {
            symtab = &sections[i];
            break;
        }
    }
    if (symtab == NULL) {
        return fail(why, why_size,
                    "%s has no .symtab section (a stripped build): pymalloc's file-static "
                    "state in obmalloc.c cannot be found", path);
    }
    if (symtab->sh_link >= eh->e_shnum || symtab->sh_entsize != sizeof(ElfW(Sym))
        || !in_file(file_size, symtab->sh_offset, symtab->sh_size)) {
        return fail(why, why_size, "%s has a malformed .symtab section", path);
    }
    const ElfW(Shdr) *strsec = &sections[symtab->sh_link];
    if (strsec->sh_type != SHT_STRTAB || !in_file(file_size, strsec->sh_offset, strsec->sh_size)) {
        return fail(why, why_size, "%s has a malformed .symtab string table", path);
    }
    const ElfW(Sym) *symbols = (const ElfW(Sym) *)(image + symtab->sh_offset);
    size_t nsymbols = symtab->sh_size / sizeof(ElfW(Sym));
    const char *strtab = (const char *)(image + strsec->sh_offset);
    size_t strsize = strsec->sh_size;

    int validated[16] = {0};
    if (nknown > sizeof validated / sizeof validated[0]) {
        return fail(why, why_size, "too many validation symbols");
    }
    for (size_t j = 0; j < nwanted; j++) {
        wanted[j].address = NULL;
    }
    int in_source = 0;
    for (size_t i = 0; i < nsymbols; i++) {
        const ElfW(Sym) *sym = &symbols[i];
        unsigned type = MV_ST_TYPE(sym->st_info);
        unsigned bind = MV_ST_BIND(sym->st_info);
        const char *name = string_at(strtab, strsize, sym->st_name);
        if (type == STT_FILE) {
            in_source = name != NULL && strcmp(base_name(name), source_file) == 0;
            continue;
        }
        if (name == NULL || sym->st_shndx == SHN_UNDEF) {
            continue;
        }
        if (bind == STB_LOCAL && type == STT_OBJECT && in_source) {
            for (size_t j = 0; j < nwanted; j++) {
                if (strcmp(name, wanted[j].name) != 0) {
                    continue;
                }
                if (wanted[j].address != NULL) {
                    return fail(why, why_size, "%s lists two local symbols '%s' in %s",
                                path, name, source_file);
                }
                if ((uint64_t)sym->st_size != wanted[j].size) {
                    return fail(why, why_size,
                                "'%s' in %s of %s has %llu bytes, not the %llu this build of "
                                "memviz expects", name, source_file, path,
                                (unsigned long long)sym->st_size,
                                (unsigned long long)wanted[j].size);
                }
                wanted[j].address = (void *)(bias + (uintptr_t)sym->st_value);
            }
        }
        else if ((bind == STB_GLOBAL || bind == STB_WEAK) && type != STT_FILE) {
            for (size_t k = 0; k < nknown; k++) {
                if (validated[k] || strcmp(name, known[k].name) != 0) {
                    continue;
                }
                if (bias + (uintptr_t)sym->st_value != (uintptr_t)known[k].address) {
                    return fail(why, why_size,
                                "%s does not match the loaded program ('%s' is not where its "
                                "symbol table says): was the file replaced?", path, name);
                }
                validated[k] = 1;
            }
        }
    }
    for (size_t k = 0; k < nknown; k++) {
        if (!validated[k]) {
            return fail(why, why_size, "%s's .symtab does not list '%s'", path, known[k].name);
        }
    }
    for (size_t j = 0; j < nwanted; j++) {
        if (wanted[j].address == NULL) {
            return fail(why, why_size,
                        "%s's .symtab has no local symbol '%s' after the file entry '%s'",
                        path, wanted[j].name, source_file);
        }
    }
    return 0;
}

int
mv_elf_find_locals(const mv_elf_known *known, size_t nknown, const char *source_file,
                   mv_elf_wanted *wanted, size_t nwanted, char *why, size_t why_size)
{
    if (nknown == 0) {
        return fail(why, why_size, "no exported symbol to start from");
    }
    object_search search;
    memset(&search, 0, sizeof search);
    search.address = (uintptr_t)known[0].address;
    dl_iterate_phdr(find_object, &search);
    if (!search.found) {
        return fail(why, why_size, "no loaded object contains '%s'", known[0].name);
    }
    int fd = open(search.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(why, why_size, "cannot open %s: %s", search.path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return fail(why, why_size, "cannot read %s", search.path);
    }
    size_t file_size = (size_t)st.st_size;
    void *image = mmap(NULL, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (image == MAP_FAILED) {
        return fail(why, why_size, "cannot map %s: %s", search.path, strerror(errno));
    }
    int result = scan_symbols(image, file_size, search.bias, search.path, known, nknown,
                              source_file, wanted, nwanted, why, why_size);
    munmap(image, file_size);
    return result;
}
