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
    seen = PyMem_Calloc(65536, 1); /* the values below 65536 already added, without a set lookup */
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
            if (seen[v])
                continue;
            seen[v] = 1;
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
    isbad = PyMem_Calloc(65536, 1);
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
            isbad[v] = 1;
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
        m[i - start] = !isbad[h];
    }
done:
    Py_XDECREF(it);
    PyMem_Free(isbad);
    PyBuffer_Release(&w);
    return out;
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
    {"canonical_chains", canonical_chains, METH_VARARGS, "GNU hash chains as linkers lay them (see linkaudit.bulk)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "linkaudit._speedups",
    "The compiled twin of linkaudit.bulk (optional; linkaudit.accel picks one).", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    return PyModule_Create(&module);
}
