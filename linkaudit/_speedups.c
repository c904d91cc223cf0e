/* The optional compiled twin of linkaudit/bulk.py: the same functions, the same results.
 *
 * linkaudit/bulk.py is the reference (read its docstrings for what each function
 * means); linkaudit/accel.py imports this module when it was built and
 * LINKAUDIT_PURE_PYTHON is not set, and falls back to bulk.py otherwise.  Only
 * byte buffers and ints come in, plain Python objects go out, and every offset
 * is checked against its buffer: a hostile ELF file gives the same ValueError as
 * the Python code, never a read outside a buffer.  Plain C99 on the CPython API.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EM_MIPS 8
#define EM_SPARCV9 43
#define SHN_ABS 0xFFF1u
#define STT_TLS 6
#define ALLOWED_TYPES ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 5) | (1u << 6) | (1u << 10))

/* A u32 of a buffer at byte offset off (the caller checked off + 4 <= len), in the given order. */
static uint32_t load32(const unsigned char *p, int big) {
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

static int get_u32_words(PyObject *obj, Py_buffer *view, Py_ssize_t *count) {
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len % 4) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "a buffer of u32 words has a length that is not a multiple of 4");
        return -1;
    }
    *count = view->len / 4;
    return 0;
}

static uint32_t word_at(const Py_buffer *view, Py_ssize_t i) {
    uint32_t w;
    memcpy(&w, (const char *)view->buf + 4 * i, 4);
    return w;
}

/* Sort a[0..n) by bits lo_bit..63 (a multiple of 16), stably: 16 bits a pass for big arrays, 8 for
 * small ones (so a small table does not pay for 65,536 counters); passes where every key has the
 * same digit are skipped.  tmp holds n more words.  Returns the sorted array (a or tmp), or NULL
 * when out of memory.  Linear in n whatever the keys: no hostile input makes it slow. */
static uint64_t *radix_sort(uint64_t *a, uint64_t *tmp, size_t n, int lo_bit) {
    const int bits = n >= 65536 ? 16 : 8;
    const size_t radix = (size_t)1 << bits, mask = radix - 1;
    size_t *count = PyMem_Malloc(radix * sizeof(size_t));
    if (!count)
        return NULL;
    for (int shift = lo_bit; shift < 64; shift += bits) {
        memset(count, 0, radix * sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> shift) & mask]++;
        if (n == 0 || count[(a[0] >> shift) & mask] == n)
            continue;
        size_t pos = 0;
        for (size_t d = 0; d < radix; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i] >> shift) & mask]++] = a[i];
        uint64_t *swap = a;
        a = tmp;
        tmp = swap;
    }
    PyMem_Free(count);
    return a;
}

/* -- hashes -------------------------------------------------------------------------------- */

static PyObject *gnu_hash(PyObject *self, PyObject *arg) {
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    uint32_t h = 5381;
    const unsigned char *p = b.buf;
    for (Py_ssize_t i = 0; i < b.len; i++)
        h = h * 33u + p[i];
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(h);
}

static PyObject *sysv_hash(PyObject *self, PyObject *arg) {
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    uint32_t h = 0;
    const unsigned char *p = b.buf;
    for (Py_ssize_t i = 0; i < b.len; i++) {
        h = (h << 4) + p[i];
        uint32_t g = h & 0xF0000000u;
        if (g)
            h ^= g >> 24;
        h &= ~g;
    }
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(h);
}

/* -- relocations ---------------------------------------------------------------------------- */

static PyObject *relocation_words(PyObject *self, PyObject *args) {
    Py_buffer raw;
    Py_ssize_t entsize;
    int bits, big;
    long machine;
    if (!PyArg_ParseTuple(args, "y*nipl", &raw, &entsize, &bits, &big, &machine))
        return NULL;
    PyObject *syms = NULL, *types = NULL;
    if (bits != 32 && bits != 64) {
        PyErr_Format(PyExc_ValueError, "ELF class of %d bits", bits);
        goto done;
    }
    if (entsize % 4 || entsize < (bits == 64 ? 16 : 8)) {
        PyErr_Format(PyExc_ValueError, "relocation entries of %zd bytes", entsize);
        goto done;
    }
    if (raw.len % entsize) {
        PyErr_SetString(PyExc_ValueError, "a relocation block that is not a whole number of entries");
        goto done;
    }
    Py_ssize_t n = raw.len / entsize;
    syms = PyBytes_FromStringAndSize(NULL, 4 * n);
    types = PyBytes_FromStringAndSize(NULL, 4 * n);
    if (!syms || !types)
        goto done;
    uint32_t *s = (uint32_t *)PyBytes_AS_STRING(syms), *t = (uint32_t *)PyBytes_AS_STRING(types);
    const unsigned char *p = raw.buf;
    for (Py_ssize_t i = 0; i < n; i++, p += entsize) {
        uint32_t sym, type;
        if (bits == 32) {
            uint32_t info = load32(p + 4, big);
            sym = info >> 8;
            type = info & 0xFF;
        } else if (machine == EM_MIPS && !big) {
            sym = load32(p + 8, 0);
            type = load32(p + 12, 1); /* the four type bytes in file order, as one big-endian number */
        } else {
            uint32_t w2 = load32(p + 8, big), w3 = load32(p + 12, big);
            sym = big ? w2 : w3;
            type = big ? w3 : w2;
            if (machine == EM_SPARCV9)
                type &= 0xFF;
        }
        memcpy(s + i, &sym, 4);
        memcpy(t + i, &type, 4);
    }
    PyBuffer_Release(&raw);
    return Py_BuildValue("(NN)", syms, types);
done:
    Py_XDECREF(syms);
    Py_XDECREF(types);
    PyBuffer_Release(&raw);
    return NULL;
}

/* A set of relocation types: a bitmap for the small ones, a list for the rest. */
typedef struct {
    unsigned char small[256];
    uint32_t *big;
    Py_ssize_t nbig;
} TypeSet;

static int typeset_init(TypeSet *ts, PyObject *seq) {
    memset(ts->small, 0, sizeof ts->small);
    ts->big = NULL;
    ts->nbig = 0;
    PyObject *fast = PySequence_Fast(seq, "relocation types must be a sequence");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    ts->big = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    if (!ts->big) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (overflow || v < 0 || v > 0xFFFFFFFFLL)
            continue; /* no u32 word holds it: it can never match */
        if (v < 256)
            ts->small[v] = 1;
        else
            ts->big[ts->nbig++] = (uint32_t)v;
    }
    Py_DECREF(fast);
    return 0;
}

static int typeset_has(const TypeSet *ts, uint32_t v) {
    if (v < 256)
        return ts->small[v];
    for (Py_ssize_t i = 0; i < ts->nbig; i++)
        if (ts->big[i] == v)
            return 1;
    return 0;
}

static void typeset_free(TypeSet *ts) {
    PyMem_Free(ts->big);
    ts->big = NULL;
}

static int get_pair(PyObject *so, PyObject *to, Py_buffer *s, Py_buffer *t, Py_ssize_t *n) {
    Py_ssize_t ns, nt;
    if (get_u32_words(so, s, &ns) < 0)
        return -1;
    if (get_u32_words(to, t, &nt) < 0) {
        PyBuffer_Release(s);
        return -1;
    }
    if (ns != nt) {
        PyBuffer_Release(s);
        PyBuffer_Release(t);
        PyErr_SetString(PyExc_ValueError, "symbol and type buffers of different lengths");
        return -1;
    }
    *n = ns;
    return 0;
}

static PyObject *mark_symbols(PyObject *self, PyObject *args) {
    PyObject *so, *to, *wanted, *marks_obj;
    if (!PyArg_ParseTuple(args, "OOOO", &so, &to, &wanted, &marks_obj))
        return NULL;
    if (!PyByteArray_Check(marks_obj)) {
        PyErr_SetString(PyExc_TypeError, "marks must be a bytearray");
        return NULL;
    }
    Py_buffer s, t;
    Py_ssize_t n;
    if (get_pair(so, to, &s, &t, &n) < 0)
        return NULL;
    TypeSet ts = {{0}, NULL, 0};
    PyObject *result = NULL;
    if (typeset_init(&ts, wanted) < 0)
        goto done;
    unsigned char *marks = (unsigned char *)PyByteArray_AS_STRING(marks_obj);
    uint64_t nmarks = (uint64_t)PyByteArray_GET_SIZE(marks_obj);
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t sym = word_at(&s, i);
        if (sym != 0 && (uint64_t)sym < nmarks && typeset_has(&ts, word_at(&t, i)))
            marks[sym] = 1;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    typeset_free(&ts);
    PyBuffer_Release(&s);
    PyBuffer_Release(&t);
    return result;
}

static PyObject *select_pairs(PyObject *self, PyObject *args) {
    PyObject *so, *to, *lookup, *copy;
    Py_buffer rest;
    if (!PyArg_ParseTuple(args, "OOOOy*", &so, &to, &lookup, &copy, &rest))
        return NULL;
    Py_buffer s, t;
    Py_ssize_t n;
    if (get_pair(so, to, &s, &t, &n) < 0) {
        PyBuffer_Release(&rest);
        return NULL;
    }
    TypeSet lk = {{0}, NULL, 0}, cp = {{0}, NULL, 0};
    PyObject *out = NULL;
    uint64_t *keys = NULL, *tmp = NULL;
    if (typeset_init(&lk, lookup) < 0 || typeset_init(&cp, copy) < 0)
        goto done;
    keys = PyMem_Malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    tmp = PyMem_Malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    if (!keys || !tmp) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *r = rest.buf;
    size_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t sym = word_at(&s, i), type = word_at(&t, i);
        if (sym == 0)
            continue;
        if (typeset_has(&cp, type) ||
            (typeset_has(&lk, type) && ((uint64_t)sym >= (uint64_t)rest.len || r[sym])))
            keys[kept++] = (uint64_t)sym << 32 | type;
    }
    uint64_t *sorted = radix_sort(keys, tmp, kept, 0);
    if (!sorted) {
        PyErr_NoMemory();
        goto done;
    }
    out = PyList_New(0);
    if (!out)
        goto done;
    for (size_t i = 0; i < kept; i++) {
        if (i && sorted[i] == sorted[i - 1])
            continue;
        PyObject *pair = Py_BuildValue("(kk)", (unsigned long)(sorted[i] >> 32), (unsigned long)(sorted[i] & 0xFFFFFFFFu));
        if (!pair || PyList_Append(out, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(pair);
    }
done:
    PyMem_Free(keys);
    PyMem_Free(tmp);
    typeset_free(&lk);
    typeset_free(&cp);
    PyBuffer_Release(&s);
    PyBuffer_Release(&t);
    PyBuffer_Release(&rest);
    return out;
}

static PyObject *distinct(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width;
    if (!PyArg_ParseTuple(args, "y*i", &b, &width))
        return NULL;
    PyObject *out = NULL;
    unsigned char *seen = NULL;
    if (width != 2 && width != 4) {
        PyErr_Format(PyExc_ValueError, "words of %d bytes", width);
        goto done;
    }
    if (b.len % width) {
        PyErr_SetString(PyExc_ValueError, width == 4 ? "a buffer of u32 words has a length that is not a multiple of 4"
                                                     : "a buffer of u16 words has an odd length");
        goto done;
    }
    out = PySet_New(NULL);
    if (!out)
        goto done;
    seen = PyMem_Calloc(65536 / 8, 1); /* a bit per value below 65536 already added, without a set lookup */
    if (!seen) {
        PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    Py_ssize_t n = b.len / width;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t v;
        if (width == 2) {
            uint16_t h;
            memcpy(&h, (char *)b.buf + 2 * i, 2);
            v = h;
        } else {
            memcpy(&v, (char *)b.buf + 4 * i, 4);
        }
        if (v < 65536) {
            if (seen[v >> 3] >> (v & 7) & 1)
                continue;
            seen[v >> 3] |= (unsigned char)(1u << (v & 7));
        }
        PyObject *o = PyLong_FromUnsignedLong(v);
        if (!o || PySet_Add(out, o) < 0) {
            Py_XDECREF(o);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(o);
    }
done:
    PyMem_Free(seen);
    PyBuffer_Release(&b);
    return out;
}

/* -- symbol tables -------------------------------------------------------------------------- */

static PyObject *symbol_rules_mask(PyObject *self, PyObject *args) {
    Py_buffer b;
    Py_ssize_t lo, count, size, info, other, shndx, value, value_size;
    int big;
    if (!PyArg_ParseTuple(args, "y*nnnnnnnnp", &b, &lo, &count, &size, &info, &other, &shndx, &value, &value_size,
                          &big))
        return NULL;
    PyObject *out = NULL;
    if (lo < 0 || count < 0 || size <= 0 || value_size <= 0 || info < 0 || other < 0 || shndx < 0 || value < 0 ||
        info + 1 > size || other + 1 > size || shndx + 2 > size || value > size - value_size ||
        count > (PY_SSIZE_T_MAX - lo) / size || b.len < lo + count * size) {
        PyErr_SetString(PyExc_ValueError, "symbol entries or fields outside the buffer");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, count);
    if (!out)
        goto done;
    unsigned char *m = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *e = (const unsigned char *)b.buf + lo;
    for (Py_ssize_t k = 0; k < count; k++, e += size) {
        unsigned int i = e[info], bind = i >> 4, type = i & 0xF;
        unsigned int sh = big ? ((unsigned)e[shndx] << 8 | e[shndx + 1]) : ((unsigned)e[shndx + 1] << 8 | e[shndx]);
        int nonzero = 0;
        for (Py_ssize_t j = 0; j < value_size; j++)
            nonzero |= e[value + j];
        int ok = (bind == 1 || bind == 2 || bind == 10) && ((1u << type) & ALLOWED_TYPES) &&
                 ((e[other] & 3) == 0 || (e[other] & 3) == 3) && sh != 0 &&
                 (nonzero || sh == SHN_ABS || type == STT_TLS);
        m[k] = (unsigned char)ok;
    }
done:
    PyBuffer_Release(&b);
    return out;
}

static PyObject *unique_hash_mask(PyObject *self, PyObject *arg) {
    Py_buffer c;
    Py_ssize_t n;
    if (get_u32_words(arg, &c, &n) < 0)
        return NULL;
    PyObject *out = NULL;
    uint64_t *keys = NULL, *tmp = NULL;
    if ((uint64_t)n > 0xFFFFFFFFu) {
        PyErr_SetString(PyExc_ValueError, "a hash chain of more than 2**32 words");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n);
    if (!out)
        goto done;
    unsigned char *m = (unsigned char *)PyBytes_AS_STRING(out);
    /* (hash with bit 0 cleared, position), sorted by the hash: equal hashes end up side by side. */
    keys = PyMem_Malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    tmp = PyMem_Malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    if (!keys || !tmp) {
        PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        keys[i] = (uint64_t)(word_at(&c, i) & ~1u) << 32 | (uint64_t)i;
    uint64_t *sorted = radix_sort(keys, tmp, (size_t)n, 32);
    if (!sorted) {
        PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t h = sorted[i] >> 32;
        int unique = (i == 0 || sorted[i - 1] >> 32 != h) && (i == n - 1 || sorted[i + 1] >> 32 != h);
        m[sorted[i] & 0xFFFFFFFFu] = (unsigned char)unique;
    }
done:
    PyMem_Free(keys);
    PyMem_Free(tmp);
    PyBuffer_Release(&c);
    return out;
}

static PyObject *u16_mask(PyObject *self, PyObject *args) {
    Py_buffer w;
    Py_ssize_t start, stop;
    PyObject *bad;
    if (!PyArg_ParseTuple(args, "y*nnO", &w, &start, &stop, &bad))
        return NULL;
    PyObject *out = NULL, *it = NULL, *item = NULL;
    unsigned char *isbad = NULL;
    if (w.len % 2) {
        PyErr_SetString(PyExc_ValueError, "a buffer of u16 words has an odd length");
        goto done;
    }
    if (!(0 <= start && start <= stop && stop <= w.len / 2)) {
        PyErr_SetString(PyExc_ValueError, "u16 words outside the buffer");
        goto done;
    }
    isbad = PyMem_Calloc(65536 / 8, 1); /* a bit per u16 value */
    if (!isbad) {
        PyErr_NoMemory();
        goto done;
    }
    it = PyObject_GetIter(bad);
    if (!it)
        goto done;
    while ((item = PyIter_Next(it))) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
        Py_DECREF(item);
        if (v == -1 && PyErr_Occurred())
            goto done;
        if (!overflow && v >= 0 && v < 65536)
            isbad[v >> 3] |= (unsigned char)(1u << (v & 7));
    }
    if (PyErr_Occurred())
        goto done;
    out = PyBytes_FromStringAndSize(NULL, stop - start);
    if (!out)
        goto done;
    unsigned char *m = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = start; i < stop; i++) {
        uint16_t h;
        memcpy(&h, (char *)w.buf + 2 * i, 2);
        m[i - start] = !(isbad[h >> 3] >> (h & 7) & 1);
    }
done:
    Py_XDECREF(it);
    PyMem_Free(isbad);
    PyBuffer_Release(&w);
    return out;
}

static PyObject *max_u32(PyObject *self, PyObject *arg) {
    Py_buffer b;
    Py_ssize_t n;
    if (get_u32_words(arg, &b, &n) < 0)
        return NULL;
    uint32_t best = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t w = word_at(&b, i);
        if (w > best)
            best = w;
    }
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(best);
}

static PyObject *canonical_chains(PyObject *self, PyObject *args) {
    PyObject *bo, *co;
    unsigned long long bias_arg;
    if (!PyArg_ParseTuple(args, "OOK", &bo, &co, &bias_arg))
        return NULL;
    Py_buffer b, c;
    Py_ssize_t nb, nc;
    if (get_u32_words(bo, &b, &nb) < 0)
        return NULL;
    if (get_u32_words(co, &c, &nc) < 0) {
        PyBuffer_Release(&b);
        return NULL;
    }
    int ok = 1;
    uint64_t bias = bias_arg, prev = 0, expected_end;
    Py_ssize_t nstarts = 0, k = 0;
    /* Walk the non-empty buckets in order; each chain must end right before the next start. */
    for (Py_ssize_t i = 0; i < nb && ok; i++) {
        uint64_t start = word_at(&b, i);
        if (!start)
            continue;
        if (nstarts == 0 ? start != bias : start <= prev) {
            ok = 0;
            break;
        }
        if (nstarts) {
            /* the previous chain's end: the first odd word at or after k */
            expected_end = start;
            while (k < nc && !(word_at(&c, k) & 1))
                k++;
            if (k >= nc || bias + (uint64_t)k + 1 != expected_end) {
                ok = 0;
                break;
            }
            k++;
        }
        prev = start;
        nstarts++;
    }
    if (ok && nstarts == 0)
        ok = 0;
    if (ok) {
        /* the last chain ends at the end of the table, and no other word ends a chain */
        while (k < nc && !(word_at(&c, k) & 1))
            k++;
        ok = nc > 0 && k == nc - 1;
    }
    PyBuffer_Release(&b);
    PyBuffer_Release(&c);
    return PyBool_FromLong(ok);
}

/* A new instance of the tuple subclass cls holding the n items (references stolen), as
 * tuple.__new__(cls, items) makes it; NULL on an error (the items are then released). */
static PyObject *new_record(PyTypeObject *cls, PyObject **items, Py_ssize_t n) {
    PyObject *o = cls->tp_alloc(cls, n);
    if (!o) {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_DECREF(items[i]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(o, i, items[i]);
    return o;
}

/* -- symbol lookups over a search list (bulk.lookup_batch) ------------------------------------ */

#define TABLE_NONE 0
#define TABLE_GNU 1
#define TABLE_SYSV 2
#define CLASS_PLT 1
#define CLASS_COPY 2
#define STO_MIPS_PLT 0x8
#define UNDECIDED (-2) /* a read the caller's own lookup makes, and that this one cannot: stop the batch */

/* One object of the search list, parsed from its LookupTables tuple (views released by tables_free). */
typedef struct {
    int present, kind, wide, big, mips;
    Py_buffer bloom, buckets, chain, xlat, symtab, strtab, versyms;
    int has_bloom, has_buckets, has_chain, has_xlat, has_symtab, has_strtab, has_versyms;
    int versyms_unreadable;
    uint32_t shift, symbias;
    Py_ssize_t walk_limit;
    PyObject *dynstr, *versions_of; /* borrowed from the tuple */
    PyObject *versions;             /* what versions_of() returned, once asked (owned) */
    int versions_unreadable;        /* versions_of() raised */
} Tables;

static void tables_free(Tables *t) {
    Py_CLEAR(t->versions);
    Py_buffer *views[] = {&t->bloom, &t->buckets, &t->chain, &t->xlat, &t->symtab, &t->strtab, &t->versyms};
    int *has[] = {&t->has_bloom, &t->has_buckets, &t->has_chain, &t->has_xlat, &t->has_symtab, &t->has_strtab,
                  &t->has_versyms};
    for (int i = 0; i < 7; i++)
        if (*has[i]) {
            PyBuffer_Release(views[i]);
            *has[i] = 0;
        }
}

/* A view of item `at` of tuple `tup` when it is not None, checked to hold whole words of `width` bytes. */
static int view_of(PyObject *tup, Py_ssize_t at, Py_buffer *view, int *has, int width) {
    PyObject *o = PyTuple_GET_ITEM(tup, at);
    if (o == Py_None)
        return 0;
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) < 0)
        return -1;
    *has = 1;
    if (view->len % width) {
        PyErr_SetString(PyExc_ValueError, "a table buffer that is not a whole number of words");
        return -1;
    }
    return 0;
}

static int tables_parse(PyObject *o, Tables *t) {
    memset(t, 0, sizeof *t);
    if (o == Py_None)
        return 0;
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) < 16) {
        PyErr_SetString(PyExc_TypeError, "lookup tables must be a tuple of 16 items");
        return -1;
    }
    t->present = 1;
    t->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(o, 0));
    t->wide = PyObject_IsTrue(PyTuple_GET_ITEM(o, 9));
    t->big = PyObject_IsTrue(PyTuple_GET_ITEM(o, 10));
    t->mips = PyObject_IsTrue(PyTuple_GET_ITEM(o, 15));
    if (PyErr_Occurred() || t->wide < 0 || t->big < 0 || t->mips < 0)
        return -1;
    if (t->kind != TABLE_GNU && t->kind != TABLE_SYSV)
        return 0; /* nothing else is read: TABLE_NONE defines nothing, the rest stops the batch */
    unsigned long long shift = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(o, 2));
    unsigned long long bias = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(o, 5));
    Py_ssize_t limit = PyLong_AsSsize_t(PyTuple_GET_ITEM(o, 7));
    if (PyErr_Occurred())
        return -1;
    t->shift = (uint32_t)(shift & 0xFF);
    t->symbias = (uint32_t)bias;
    if (bias > 0xFFFFFFFFull) {
        PyErr_SetString(PyExc_ValueError, "symoffset of more than 32 bits");
        return -1;
    }
    t->walk_limit = limit;
    if (view_of(o, 1, &t->bloom, &t->has_bloom, t->wide ? 8 : 4) < 0 ||
        view_of(o, 3, &t->buckets, &t->has_buckets, 4) < 0 || view_of(o, 4, &t->chain, &t->has_chain, 4) < 0 ||
        view_of(o, 6, &t->xlat, &t->has_xlat, 4) < 0 || view_of(o, 8, &t->symtab, &t->has_symtab, 1) < 0 ||
        view_of(o, 11, &t->strtab, &t->has_strtab, 1) < 0)
        return -1;
    if (!t->has_buckets || !t->has_chain || t->buckets.len == 0 || (t->kind == TABLE_GNU && !t->has_bloom)) {
        PyErr_SetString(PyExc_ValueError, "a hash table without buckets, chains or bloom words");
        return -1;
    }
    PyObject *vs = PyTuple_GET_ITEM(o, 13);
    if (vs == Py_False)
        t->versyms_unreadable = 1;
    else if (view_of(o, 13, &t->versyms, &t->has_versyms, 2) < 0)
        return -1;
    t->dynstr = PyTuple_GET_ITEM(o, 12);
    t->versions_of = PyTuple_GET_ITEM(o, 14);
    return 0;
}

/* The object's versions (a dict): borrowed, NULL with UNDECIDED in *rc when versions_of() raised, or NULL
 * with -1 in *rc on an exception to pass on. */
static PyObject *versions_of(Tables *t, int *rc) {
    if (t->versions)
        return t->versions;
    if (!t->versions_unreadable) {
        PyObject *v = PyObject_CallNoArgs(t->versions_of);
        if (v && PyDict_Check(v)) {
            t->versions = v;
            return v;
        }
        if (v) {
            Py_DECREF(v);
            PyErr_SetString(PyExc_TypeError, "versions_of() must return a dict");
            *rc = -1;
            return NULL;
        }
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            *rc = -1;
            return NULL;
        }
        PyErr_Clear();
        t->versions_unreadable = 1;
    }
    *rc = UNDECIDED;
    return NULL;
}

typedef struct {
    uint32_t name;
    unsigned int info, other, shndx;
    uint64_t value;
} Entry;

/* Entry idx of DT_SYMTAB: 0, or UNDECIDED when it is not in the buffer. */
static int entry_at(const Tables *t, uint64_t idx, Entry *e) {
    const uint64_t size = t->wide ? 24 : 16;
    if (!t->has_symtab || (idx + 1) * size > (uint64_t)t->symtab.len)
        return UNDECIDED;
    const unsigned char *p = (const unsigned char *)t->symtab.buf + idx * size;
    int big = t->big;
    e->name = load32(p, big);
    const unsigned char *v;
    int vsize;
    if (t->wide) {
        e->info = p[4];
        e->other = p[5];
        e->shndx = big ? ((unsigned)p[6] << 8 | p[7]) : ((unsigned)p[7] << 8 | p[6]);
        v = p + 8;
        vsize = 8;
    } else {
        e->info = p[12];
        e->other = p[13];
        e->shndx = big ? ((unsigned)p[14] << 8 | p[15]) : ((unsigned)p[15] << 8 | p[14]);
        v = p + 4;
        vsize = 4;
    }
    e->value = vsize == 8 ? (big ? (uint64_t)load32(v, 1) << 32 | load32(v + 4, 1)
                                 : (uint64_t)load32(v + 4, 0) << 32 | load32(v, 0))
                          : load32(v, big);
    return 0;
}

/* Whether the name at `off` of the string table is `name`: 1 or 0, UNDECIDED, or -1 (an exception). */
static int name_is(const Tables *t, uint32_t off, const char *name, Py_ssize_t len) {
    if (t->has_strtab) {
        const char *s = t->strtab.buf;
        if ((Py_ssize_t)off >= t->strtab.len)
            return UNDECIDED;
        const char *end = memchr(s + off, 0, (size_t)(t->strtab.len - off));
        if (!end)
            return UNDECIDED;
        return end - (s + off) == len && memcmp(s + off, name, (size_t)len) == 0;
    }
    PyObject *got = PyObject_CallFunction(t->dynstr, "k", (unsigned long)off);
    if (!got) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1; /* KeyboardInterrupt and the like go on up */
        PyErr_Clear();
        return UNDECIDED;
    }
    int same = PyBytes_Check(got) && PyBytes_GET_SIZE(got) == len && memcmp(PyBytes_AS_STRING(got), name, (size_t)len) == 0;
    Py_DECREF(got);
    return same;
}

/* A growable list of symbol indices. */
typedef struct {
    uint32_t *items, small[16];
    size_t n, cap;
} Indices;

static int indices_add(Indices *l, uint32_t v) {
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        uint32_t *items = l->items == l->small ? PyMem_Malloc(cap * sizeof *items)
                                               : PyMem_Realloc(l->items, cap * sizeof *items);
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        if (l->items == l->small)
            memcpy(items, l->small, sizeof l->small);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = v;
    return 0;
}

static void indices_free(Indices *l) {
    if (l->items != l->small)
        PyMem_Free(l->items);
}

/* Symbol `idx`, a candidate of a chain walk, added to `out` when its name is `name`: 0, UNDECIDED or -1.
 * What both hash tables' walks do with each candidate, in walk order. */
static int keep_if_named(const Tables *t, uint64_t idx, const char *name, Py_ssize_t len, Indices *out) {
    Entry e;
    if (entry_at(t, idx, &e) < 0)
        return UNDECIDED;
    int same = name_is(t, e.name, name, len);
    if (same <= 0)
        return same; /* 0: another name; UNDECIDED or -1 as name_is says */
    return indices_add(out, (uint32_t)idx) < 0 ? -1 : 0;
}

/* The candidates named `name`, in walk order, into `out`: 0, UNDECIDED or -1. */
static int gnu_named(const Tables *t, uint32_t h, const char *name, Py_ssize_t len, Indices *out) {
    const int bits = t->wide ? 64 : 32;
    const Py_ssize_t nwords = t->bloom.len / (bits / 8);
    if (nwords == 0)
        return UNDECIDED;
    const Py_ssize_t at = (Py_ssize_t)((h / (uint32_t)bits) & (uint32_t)(nwords - 1));
    uint64_t word;
    if (bits == 64) {
        memcpy(&word, (const char *)t->bloom.buf + 8 * at, 8);
    } else {
        uint32_t w;
        memcpy(&w, (const char *)t->bloom.buf + 4 * at, 4);
        word = w;
    }
    uint32_t h2 = t->shift >= 32 ? 0 : h >> t->shift;
    if (!((word >> (h & (bits - 1))) & (word >> (h2 & (bits - 1))) & 1))
        return 0;
    const Py_ssize_t nb = t->buckets.len / 4, nc = t->chain.len / 4;
    uint32_t bucket = word_at(&t->buckets, (Py_ssize_t)(h % (uint32_t)nb));
    if (bucket == 0)
        return 0;
    if (bucket < t->symbias)
        return UNDECIDED;
    Py_ssize_t k = (Py_ssize_t)(bucket - t->symbias);
    Py_ssize_t end = nc;
    if (t->walk_limit < nc && k < nc - t->walk_limit)
        end = k + t->walk_limit;
    Indices hits = {NULL, {0}, 0, 16};
    hits.items = hits.small;
    int rc = UNDECIDED;
    for (; k < end; k++) {
        uint32_t value = word_at(&t->chain, k);
        if (value >> 1 == h >> 1 && indices_add(&hits, (uint32_t)k) < 0) {
            rc = -1;
            goto done;
        }
        if (value & 1) {
            rc = 0;
            break;
        }
    }
    if (rc != 0)
        goto done;
    for (size_t j = 0; j < hits.n && rc == 0; j++) {
        uint64_t idx = (uint64_t)hits.items[j] + t->symbias;
        if (t->has_xlat) {
            if ((Py_ssize_t)hits.items[j] >= t->xlat.len / 4) {
                rc = UNDECIDED;
                break;
            }
            idx = word_at(&t->xlat, (Py_ssize_t)hits.items[j]);
        }
        rc = keep_if_named(t, idx, name, len, out);
    }
done:
    indices_free(&hits);
    return rc;
}

static uint32_t sysv_hash_of(const char *name, Py_ssize_t len) {
    uint32_t h = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        h = (h << 4) + (unsigned char)name[i];
        uint32_t g = h & 0xF0000000u;
        if (g)
            h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

static int sysv_named(const Tables *t, uint32_t h, const char *name, Py_ssize_t len, Indices *out) {
    const Py_ssize_t nb = t->buckets.len / 4, n = t->chain.len / 4;
    uint32_t idx = word_at(&t->buckets, (Py_ssize_t)(h % (uint32_t)nb));
    Py_ssize_t count = 0;
    Indices all = {NULL, {0}, 0, 16};
    all.items = all.small;
    int rc = 0;
    while (idx != 0) { /* the whole chain first, as _SysvHash.candidates walks it */
        if ((Py_ssize_t)idx >= n || count >= n) {
            rc = UNDECIDED;
            goto done;
        }
        if (indices_add(&all, idx) < 0) {
            rc = -1;
            goto done;
        }
        count++;
        idx = word_at(&t->chain, (Py_ssize_t)idx);
    }
    for (size_t j = 0; j < all.n && rc == 0; j++)
        rc = keep_if_named(t, all.items[j], name, len, out);
done:
    indices_free(&all);
    return rc;
}

/* do_lookup_x in one object: 1 (*found set), 0 (move on), UNDECIDED or -1. */
static int lookup_one(Tables *t, const char *name, Py_ssize_t len, uint32_t ghash, uint32_t *shash,
                      int *shash_done, PyObject *version, long klass, uint32_t *found_out, Entry *entry_out) {
    if (t->kind == TABLE_NONE)
        return 0;
    if (t->kind != TABLE_GNU && t->kind != TABLE_SYSV)
        return UNDECIDED;
    Indices named = {NULL, {0}, 0, 16};
    named.items = named.small;
    int rc;
    if (t->kind == TABLE_GNU) {
        rc = gnu_named(t, ghash, name, len, &named);
    } else {
        if (!*shash_done) {
            *shash = sysv_hash_of(name, len);
            *shash_done = 1;
        }
        rc = sysv_named(t, *shash, name, len, &named);
    }
    if (rc < 0)
        goto done;
    int have_found = 0, num_versions = 0;
    uint32_t found = 0, versioned = 0;
    for (size_t j = 0; j < named.n; j++) {
        uint32_t idx = named.items[j];
        Entry e;
        entry_at(t, idx, &e); /* read above */
        unsigned int stt = e.info & 0xF;
        if ((e.value == 0 && e.shndx != SHN_ABS && stt != STT_TLS) ||
            (e.shndx == 0 && ((klass & CLASS_PLT) || (t->mips && !(e.other & STO_MIPS_PLT)))))
            continue;
        if (!((1u << stt) & ALLOWED_TYPES))
            continue;
        if (!t->has_versyms) {
            if (t->versyms_unreadable) {
                rc = UNDECIDED;
                goto done;
            }
            found = idx;
            have_found = 1;
            break;
        }
        if ((Py_ssize_t)idx >= t->versyms.len / 2) {
            rc = UNDECIDED;
            goto done;
        }
        uint16_t raw;
        memcpy(&raw, (const char *)t->versyms.buf + 2 * (Py_ssize_t)idx, 2);
        if (version != Py_None) {
            PyObject *versions = versions_of(t, &rc);
            if (!versions)
                goto done;
            PyObject *key = PyLong_FromLong(raw & 0x7FFF);
            if (!key) {
                rc = -1;
                goto done;
            }
            PyObject *have = PyDict_GetItemWithError(versions, key); /* borrowed */
            Py_DECREF(key);
            if (!have && PyErr_Occurred()) {
                rc = -1;
                goto done;
            }
            int differ = 1, have_hash = 0;
            if (have) {
                if (!PyTuple_Check(have) || PyTuple_GET_SIZE(have) < 2) {
                    PyErr_SetString(PyExc_TypeError, "a version must be a tuple (name, hash, ...)");
                    rc = -1;
                    goto done;
                }
                int ne_hash = PyObject_RichCompareBool(PyTuple_GET_ITEM(have, 1), PyTuple_GET_ITEM(version, 1), Py_NE);
                int ne_name = ne_hash < 0 ? -1
                                          : PyObject_RichCompareBool(PyTuple_GET_ITEM(have, 0),
                                                                     PyTuple_GET_ITEM(version, 0), Py_NE);
                have_hash = ne_name < 0 ? -1 : PyObject_IsTrue(PyTuple_GET_ITEM(have, 1));
                if (ne_hash < 0 || ne_name < 0 || have_hash < 0) {
                    rc = -1;
                    goto done;
                }
                differ = ne_hash || ne_name;
            }
            if (differ) {
                int hidden = PyObject_IsTrue(PyTuple_GET_ITEM(version, 2));
                if (hidden < 0) {
                    rc = -1;
                    goto done;
                }
                if (hidden || have_hash || (raw & 0x8000))
                    continue;
            }
            found = idx;
            have_found = 1;
            break;
        }
        if ((raw & 0x7FFF) >= 3) {
            if (!(raw & 0x8000) && ++num_versions == 1)
                versioned = idx;
            continue;
        }
        found = idx;
        have_found = 1;
        break;
    }
    if (!have_found && num_versions == 1) {
        found = versioned;
        have_found = 1;
    }
    rc = 0;
    if (have_found) {
        Entry e;
        entry_at(t, found, &e);
        unsigned int vis = e.other & 3, bind = e.info >> 4;
        if (vis != 1 && vis != 2 && (bind == 1 || bind == 2 || bind == 10)) {
            *found_out = found;
            *entry_out = e;
            rc = 1;
        }
    }
done:
    indices_free(&named);
    return rc;
}

/* The Resolution (res_cls) of ref: bound to object i, symbol idx (a sym_cls made of e), or (i < 0) to nothing. */
static PyObject *resolution(PyTypeObject *res_cls, PyTypeObject *sym_cls, PyObject *ref, Py_ssize_t i, uint32_t idx,
                            const Entry *e) {
    PyObject *index = Py_None, *sym = Py_None;
    if (i >= 0) {
        PyObject *name = PyTuple_GET_ITEM(ref, 0); /* the name the entry was found by: equal bytes */
        Py_INCREF(name);
        PyObject *items[6] = {PyLong_FromUnsignedLong(idx), name, PyLong_FromUnsignedLong(e->info),
                              PyLong_FromUnsignedLong(e->other), PyLong_FromUnsignedLong(e->shndx),
                              PyLong_FromUnsignedLongLong(e->value)};
        for (int j = 0; j < 6; j++)
            if (!items[j]) {
                for (int m = 0; m < 6; m++)
                    Py_XDECREF(items[m]);
                return NULL;
            }
        sym = new_record(sym_cls, items, 6);
        if (!sym)
            return NULL;
        index = PyLong_FromSsize_t(i);
        if (!index) {
            Py_DECREF(sym);
            return NULL;
        }
    } else {
        Py_INCREF(index);
        Py_INCREF(sym);
    }
    Py_INCREF(ref);
    PyObject *items[3] = {ref, index, sym};
    return new_record(res_cls, items, 3);
}

static int record_type(PyObject *o) {
    if (!PyType_Check(o) || !PyType_IsSubtype((PyTypeObject *)o, &PyTuple_Type) ||
        ((PyTypeObject *)o)->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "records must be plain tuple subclasses (NamedTuples)");
        return -1;
    }
    return 0;
}

static PyObject *lookup_batch(PyObject *self, PyObject *args) {
    PyObject *scope, *refs, *sym_obj, *res_obj;
    Py_ssize_t start;
    int with_own;
    if (!PyArg_ParseTuple(args, "O!O!npOO", &PyList_Type, &scope, &PyList_Type, &refs, &start, &with_own, &sym_obj,
                          &res_obj))
        return NULL;
    if (record_type(sym_obj) < 0 || record_type(res_obj) < 0)
        return NULL;
    if (start < 0 || start > PyList_GET_SIZE(refs)) {
        PyErr_SetString(PyExc_ValueError, "a batch starting outside the references");
        return NULL;
    }
    PyTypeObject *sym_cls = (PyTypeObject *)sym_obj, *res_cls = (PyTypeObject *)res_obj;
    Py_ssize_t nscope = PyList_GET_SIZE(scope);
    Tables *tables = PyMem_Calloc((size_t)(nscope ? nscope : 1), sizeof(Tables));
    if (!tables)
        return PyErr_NoMemory();
    PyObject *out = NULL, *result = NULL;
    for (Py_ssize_t i = 0; i < nscope; i++)
        if (tables_parse(PyList_GET_ITEM(scope, i), &tables[i]) < 0)
            goto done;
    out = PyList_New(0);
    if (!out)
        goto done;
    Py_ssize_t k = start;
    for (; k < PyList_GET_SIZE(refs); k++) {
        PyObject *ref = PyList_GET_ITEM(refs, k);
        if (!PyTuple_Check(ref) || PyTuple_GET_SIZE(ref) < 5 || !PyBytes_Check(PyTuple_GET_ITEM(ref, 0))) {
            PyErr_SetString(PyExc_TypeError, "a reference must be a tuple (name, version, weak, protected, class)");
            goto fail;
        }
        PyObject *version = PyTuple_GET_ITEM(ref, 1);
        if (version != Py_None && (!PyTuple_Check(version) || PyTuple_GET_SIZE(version) < 3)) {
            PyErr_SetString(PyExc_TypeError, "a version must be a tuple (name, hash, hidden, ...)");
            goto fail;
        }
        long klass = PyLong_AsLong(PyTuple_GET_ITEM(ref, 4));
        if (klass == -1 && PyErr_Occurred())
            goto fail;
        const char *name = PyBytes_AS_STRING(PyTuple_GET_ITEM(ref, 0));
        Py_ssize_t len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(ref, 0));
        uint32_t ghash = 5381, shash = 0, sym = 0;
        int shash_done = 0, rc = 0;
        Entry e = {0, 0, 0, 0, 0};
        for (Py_ssize_t j = 0; j < len; j++)
            ghash = ghash * 33u + (unsigned char)name[j];
        Py_ssize_t i = 0;
        for (; i < nscope; i++) {
            if (!tables[i].present || (i == 0 && (klass & CLASS_COPY)))
                continue;
            rc = lookup_one(&tables[i], name, len, ghash, &shash, &shash_done, version, klass, &sym, &e);
            if (rc != 0)
                break;
        }
        if (rc == -1)
            goto fail;
        if (rc == 1 && i != 0) {
            int prot = PyObject_IsTrue(PyTuple_GET_ITEM(ref, 3));
            if (prot < 0)
                goto fail;
            if (prot)
                rc = UNDECIDED; /* a protected reference bound elsewhere: the caller looks it up again */
        }
        if (rc == UNDECIDED)
            break;
        if (rc == 1 && i == 0 && !with_own)
            continue;
        PyObject *answer = resolution(res_cls, sym_cls, ref, rc == 1 ? i : -1, sym, &e);
        if (!answer || PyList_Append(out, answer) < 0) {
            Py_XDECREF(answer);
            goto fail;
        }
        Py_DECREF(answer);
    }
    result = Py_BuildValue("(nO)", k, out);
fail:
    Py_XDECREF(out);
done:
    for (Py_ssize_t i = 0; i < nscope; i++)
        tables_free(&tables[i]);
    PyMem_Free(tables);
    return result;
}

/* -- the references of an object (bulk.make_references) ------------------------------------- */

static PyObject *make_references(PyObject *self, PyObject *args) {
    PyObject *pairs, *classes, *strtab_obj, *dynstr, *versyms_obj, *versions, *cls_obj;
    Py_buffer symtab;
    int wide, big;
    if (!PyArg_ParseTuple(args, "O!O!y*ppOOOO!O!", &PyList_Type, &pairs, &PyDict_Type, &classes, &symtab, &wide, &big,
                          &strtab_obj, &dynstr, &versyms_obj, &PyDict_Type, &versions, &PyType_Type, &cls_obj))
        return NULL;
    PyTypeObject *cls = (PyTypeObject *)cls_obj;
    Py_buffer strtab, versyms;
    int has_strtab = 0, has_versyms = 0;
    PyObject *out = NULL, *result = NULL;
    if (record_type(cls_obj) < 0)
        goto done;
    if (strtab_obj != Py_None) {
        if (PyObject_GetBuffer(strtab_obj, &strtab, PyBUF_SIMPLE) < 0)
            goto done;
        has_strtab = 1;
    }
    if (versyms_obj != Py_None) {
        if (PyObject_GetBuffer(versyms_obj, &versyms, PyBUF_SIMPLE) < 0)
            goto done;
        has_versyms = 1;
        if (versyms.len % 2) {
            PyErr_SetString(PyExc_ValueError, "a buffer of u16 words has an odd length");
            goto done;
        }
    }
    out = PyDict_New();
    if (!out)
        goto done;
    const Py_ssize_t size = wide ? 24 : 16;
    const Py_ssize_t npairs = PyList_GET_SIZE(pairs);
    for (Py_ssize_t k = 0; k < npairs; k++) {
        PyObject *pair = PyList_GET_ITEM(pairs, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs must be (symbol index, type) tuples");
            goto done;
        }
        PyObject *klass = PyDict_GetItemWithError(classes, PyTuple_GET_ITEM(pair, 1)); /* borrowed */
        if (!klass) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(pair, 1));
            goto done;
        }
        if (klass == Py_None)
            continue;
        unsigned long long symidx = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(pair, 0));
        if (PyErr_Occurred())
            goto done;
        if (symidx >= (unsigned long long)(symtab.len / size))
            goto undecided;
        const unsigned char *p = (const unsigned char *)symtab.buf + symidx * (unsigned long long)size;
        uint32_t name_off = load32(p, big);
        unsigned int info = p[wide ? 4 : 12], other = p[wide ? 5 : 13];
        const unsigned char *sh = p + (wide ? 6 : 14);
        unsigned int shndx = big ? ((unsigned)sh[0] << 8 | sh[1]) : ((unsigned)sh[1] << 8 | sh[0]);
        unsigned int vis = other & 3, bind = info >> 4;
        if (bind == 0 || vis == 1 || vis == 2)
            continue;
        PyObject *version = Py_None; /* borrowed */
        if (has_versyms) {
            if (symidx >= (unsigned long long)(versyms.len / 2))
                goto undecided;
            uint16_t raw;
            memcpy(&raw, (const char *)versyms.buf + 2 * symidx, 2);
            PyObject *key = PyLong_FromLong(raw & 0x7FFF);
            if (!key)
                goto done;
            PyObject *v = PyDict_GetItemWithError(versions, key);
            Py_DECREF(key);
            if (!v && PyErr_Occurred())
                goto done;
            if (v) {
                if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) < 2) {
                    PyErr_SetString(PyExc_TypeError, "a version must be a tuple (name, hash, ...)");
                    goto done;
                }
                int nonzero = PyObject_IsTrue(PyTuple_GET_ITEM(v, 1));
                if (nonzero < 0)
                    goto done;
                if (nonzero)
                    version = v;
            }
        }
        PyObject *name;
        if (has_strtab) {
            const char *s = strtab.buf;
            if ((Py_ssize_t)name_off >= strtab.len)
                goto undecided;
            const char *end = memchr(s + name_off, 0, (size_t)(strtab.len - name_off));
            if (!end)
                goto undecided;
            name = PyBytes_FromStringAndSize(s + name_off, end - (s + name_off));
            if (!name)
                goto done;
        } else {
            name = PyObject_CallFunction(dynstr, "k", (unsigned long)name_off);
            if (!name) {
                if (!PyErr_ExceptionMatches(PyExc_Exception))
                    goto done;
                PyErr_Clear();
                goto undecided;
            }
        }
        PyObject *key = PyTuple_Pack(3, name, version == Py_None ? Py_None : PyTuple_GET_ITEM(version, 0), klass);
        if (!key) {
            Py_DECREF(name);
            goto done;
        }
        int seen = PyDict_Contains(out, key);
        if (seen) {
            Py_DECREF(key);
            Py_DECREF(name);
            if (seen < 0)
                goto done;
            continue;
        }
        PyObject *weak = PyBool_FromLong(bind == 2 && shndx == 0), *prot = PyBool_FromLong(vis == 3);
        Py_INCREF(version);
        Py_INCREF(klass);
        PyObject *items[5] = {name, version, weak, prot, klass};
        PyObject *ref = new_record(cls, items, 5);
        if (!ref) {
            Py_DECREF(key);
            goto done;
        }
        int rc = PyDict_SetItem(out, key, ref);
        Py_DECREF(key);
        Py_DECREF(ref);
        if (rc < 0)
            goto done;
    }
    result = PyDict_Values(out);
    goto done;
undecided:
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(out);
    if (has_strtab)
        PyBuffer_Release(&strtab);
    if (has_versyms)
        PyBuffer_Release(&versyms);
    PyBuffer_Release(&symtab);
    return result;
}

static PyMethodDef methods[] = {
    {"gnu_hash", gnu_hash, METH_O, "DT_GNU_HASH's hash of a name (see linkaudit.bulk)."},
    {"sysv_hash", sysv_hash, METH_O, "DT_HASH's hash of a name (see linkaudit.bulk)."},
    {"relocation_words", relocation_words, METH_VARARGS, "(symbols, types) of relocation entries (see linkaudit.bulk)."},
    {"mark_symbols", mark_symbols, METH_VARARGS, "Mark the symbols of some relocation types (see linkaudit.bulk)."},
    {"select_pairs", select_pairs, METH_VARARGS, "The relocations still to look up (see linkaudit.bulk)."},
    {"distinct", distinct, METH_VARARGS, "The distinct values of u16/u32 words (see linkaudit.bulk)."},
    {"symbol_rules_mask", symbol_rules_mask, METH_VARARGS, "check_match's per-entry rules (see linkaudit.bulk)."},
    {"unique_hash_mask", unique_hash_mask, METH_O, "Chain hashes held once (see linkaudit.bulk)."},
    {"u16_mask", u16_mask, METH_VARARGS, "u16 words not in a set (see linkaudit.bulk)."},
    {"max_u32", max_u32, METH_O, "The largest u32 word (see linkaudit.bulk)."},
    {"canonical_chains", canonical_chains, METH_VARARGS, "GNU hash chains as linkers lay them (see linkaudit.bulk)."},
    {"make_references", make_references, METH_VARARGS, "The references of relocations (see linkaudit.bulk)."},
    {"lookup_batch", lookup_batch, METH_VARARGS, "do_lookup_x over a search list for many references (see linkaudit.bulk)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "linkaudit._speedups",
    "The compiled twin of linkaudit.bulk (optional; linkaudit.accel picks one).", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    return PyModule_Create(&module);
}
