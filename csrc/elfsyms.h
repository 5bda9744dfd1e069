/* elfsyms.h -- local symbols of a loaded ELF object, read from its .symtab
 * (csrc/elfsyms.c).  Used on 3.10/3.11, whose pymalloc state is made of
 * file-static variables of Objects/obmalloc.c that no header declares and
 * no dynamic symbol table lists. */
#ifndef MEMVIZ_ELFSYMS_H
#define MEMVIZ_ELFSYMS_H

#include <stddef.h>
#include <stdint.h>

/* A symbol whose run-time address the caller knows (an exported one): the
 * first one names the loaded object to read (the one whose segments contain
 * it); all of them validate that the file on disk is that object and that
 * the load bias is right. */
typedef struct {
    const char *name;
    const void *address;
} mv_elf_known;

/* A local object symbol to find: its name and the size it must have. */
typedef struct {
    const char *name;
    uint64_t size;
    void *address;      /* out: its run-time address */
} mv_elf_wanted;

/* Finds every `wanted` symbol among the local STT_OBJECT symbols listed after
 * the STT_FILE entry named `source_file` (compared by base name) in the
 * .symtab of the object that contains known[0].address.  Returns 0 when all
 * were found with the right sizes and every `known` symbol's st_value plus
 * the load bias equals its run-time address; otherwise -1 with a sentence
 * in `why`.  Allocates nothing from Python (mmap of the file, plain libc). */
int mv_elf_find_locals(const mv_elf_known *known, size_t nknown, const char *source_file,
                       mv_elf_wanted *wanted, size_t nwanted, char *why, size_t why_size);

#endif
