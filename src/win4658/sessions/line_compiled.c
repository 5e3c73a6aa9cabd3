/* hunt's session line in C: the compiled fast path of sessions/line.py's session_line, which it equals byte for byte
 * (tests/sessions/test_line_compiled.py). It writes what needs no table: times, numbers, strings as orjson escapes
 * them, base names of plain paths. What it does not know it asks line.py for (the access names, privileges and
 * durations, configured by line.py), and where a value is not of the type the readers give it answers None: then
 * line.py writes that line. Built where a C compiler is found; without it line.py alone writes the lines. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define DECLINED (-2) /* a value line.py must write: the whole line is left to it */

typedef struct {
    char *text;
    Py_ssize_t length, capacity;
    char local[1024]; /* a line is some 400 bytes: most never leave the stack */
} Line;

static int reserve(Line *line, Py_ssize_t more) {
    if (line->length + more <= line->capacity) return 0;
    Py_ssize_t capacity = (line->length + more) * 2;
    char *text = line->text == line->local ? PyMem_Malloc(capacity) : PyMem_Realloc(line->text, capacity);
    if (text == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (line->text == line->local) memcpy(text, line->local, line->length);
    line->text = text;
    line->capacity = capacity;
    return 0;
}

static int put(Line *line, const char *text, Py_ssize_t length) {
    if (reserve(line, length)) return -1;
    memcpy(line->text + line->length, text, length);
    line->length += length;
    return 0;
}

#define PUT(line, literal) put(line, literal, sizeof(literal) - 1)

static const char HEX_DIGITS[] = "0123456789abcdef";

/* How many bytes an escaped byte adds: 1 for '"', '\' and the control characters with a letter (\b \t \n \f \r),
 * 5 for the other control characters (\u00XX), 0 for the rest */
static unsigned char ESCAPE_LENGTH[256];
static const char ESCAPE_LETTER[32] = {['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};

static void fill_escape_lengths(void) {
    for (int byte = 0; byte < 0x20; byte++) ESCAPE_LENGTH[byte] = ESCAPE_LETTER[byte] ? 1 : 5;
    ESCAPE_LENGTH['"'] = ESCAPE_LENGTH['\\'] = 1;
}

/* A str as orjson writes it: '"', '\' and control characters escaped, the rest as UTF-8. Room for each escape is
 * made as it comes: the line grows by what the string takes, not by six times its length. */
static int put_string(Line *line, PyObject *value) {
    if (!PyUnicode_CheckExact(value)) return DECLINED;
    Py_ssize_t length;
    const unsigned char *utf8 = (const unsigned char *)PyUnicode_AsUTF8AndSize(value, &length);
    if (utf8 == NULL) { /* a lone surrogate: orjson's own error, from line.py */
        PyErr_Clear();
        return DECLINED;
    }
    if (reserve(line, length + 2)) return -1;
    char *out = line->text + line->length;
    *out++ = '"';
    for (Py_ssize_t index = 0; index < length; index++) {
        unsigned char byte = utf8[index];
        if (!ESCAPE_LENGTH[byte]) {
            *out++ = (char)byte;
            continue;
        }
        line->length = out - line->text;
        if (reserve(line, length - index + 1 + ESCAPE_LENGTH[byte])) return -1; /* the escape, the rest, the '"' */
        out = line->text + line->length;
        *out++ = '\\';
        if (byte >= 0x20) {
            *out++ = (char)byte;
        } else if (ESCAPE_LETTER[byte]) {
            *out++ = ESCAPE_LETTER[byte];
        } else {
            memcpy(out, "u00", 3);
            out[3] = HEX_DIGITS[byte >> 4];
            out[4] = HEX_DIGITS[byte & 15];
            out += 5;
        }
    }
    *out++ = '"';
    line->length = out - line->text;
    return 0;
}

/* A number the readers give as a Python int, within 64 bits; DECLINED for anything else. */
static int as_long_long(PyObject *value, long long *number) {
    if (!PyLong_CheckExact(value)) return DECLINED;
    int overflow;
    *number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow) return DECLINED;
    return *number == -1 && PyErr_Occurred() ? -1 : 0;
}

/* A number in decimal (base 10) or lower-case hexadecimal (base 16), as %d and hex() write it */
static int put_number(Line *line, long long number, int base) {
    char digits[24], *end = digits + sizeof digits, *start = end;
    unsigned long long magnitude = number < 0 ? 0ULL - (unsigned long long)number : (unsigned long long)number;
    do {
        *--start = HEX_DIGITS[magnitude % base];
        magnitude /= base;
    } while (magnitude);
    if (number < 0) *--start = '-';
    return put(line, start, end - start);
}

/* A value session_record leaves out: None, "" or "-". */
static int absent(PyObject *value) {
    if (value == NULL || value == Py_None) return 1;
    if (!PyUnicode_CheckExact(value)) return 0;
    Py_ssize_t length = PyUnicode_GET_LENGTH(value);
    return length == 0 || (length == 1 && PyUnicode_READ_CHAR(value, 0) == '-');
}

/* ',"name":value', or nothing for an absent value */
static int put_field(Line *line, const char *label, Py_ssize_t label_length, PyObject *value) {
    if (absent(value)) return 0;
    if (put(line, label, label_length)) return -1;
    return put_string(line, value);
}

#define FIELD(line, label, value) put_field(line, label, sizeof(label) - 1, value)

static void two_digits(char *out, int number) {
    out[0] = (char)('0' + number / 10);
    out[1] = (char)('0' + number % 10);
}

/* times.format_ns's 'YYYY-MM-DDThh:mm:ss.ffffffZ' (microseconds, rounded down); DECLINED outside years 1 to 9999 */
static int put_time(Line *line, PyObject *nanoseconds_value) {
    long long nanoseconds;
    int status = as_long_long(nanoseconds_value, &nanoseconds);
    if (status) return status;
    long long microseconds = nanoseconds / 1000 - (nanoseconds % 1000 < 0);
    long long day = microseconds / 86400000000LL, of_day = microseconds % 86400000000LL;
    if (of_day < 0) {
        of_day += 86400000000LL;
        day -= 1;
    }
    /* the civil date of a day since 1970-01-01 (Howard Hinnant's days_from_civil, inverted) */
    long long shifted = day + 719468, era = (shifted >= 0 ? shifted : shifted - 146096) / 146097;
    long long day_of_era = shifted - era * 146097;
    long long year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    long long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    long long month_from_march = (5 * day_of_year + 2) / 153;
    int day_of_month = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    int month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    long long year = year_of_era + era * 400 + (month <= 2);
    if (year < 1 || year > 9999) return DECLINED;
    if (reserve(line, 27)) return -1;
    char *out = line->text + line->length;
    long long seconds = of_day / 1000000;
    int fraction = (int)(of_day % 1000000);
    two_digits(out, (int)year / 100);
    two_digits(out + 2, (int)year % 100);
    out[4] = '-';
    two_digits(out + 5, month);
    out[7] = '-';
    two_digits(out + 8, day_of_month);
    out[10] = 'T';
    two_digits(out + 11, (int)(seconds / 3600));
    out[13] = ':';
    two_digits(out + 14, (int)(seconds / 60 % 60));
    out[16] = ':';
    two_digits(out + 17, (int)(seconds % 60));
    out[19] = '.';
    for (int index = 25; index >= 20; index--, fraction /= 10) out[index] = (char)('0' + fraction % 10);
    out[26] = 'Z';
    line->length += 27;
    return 0;
}

/* '"label":"<time>",' or nothing without a time */
static int put_timed(Line *line, const char *label, Py_ssize_t label_length, PyObject *nanoseconds) {
    if (nanoseconds == Py_None) return 0;
    if (put(line, label, label_length)) return -1;
    int status = put_time(line, nanoseconds);
    return status ? status : PUT(line, "\",");
}

#define TIMED(line, label, nanoseconds) put_timed(line, label, sizeof(label) - 1, nanoseconds)

/* What line.py answers: configure() sets them. */
static PyObject *basename_of, *requested_piece, *used_piece, *privileges_piece, *duration_piece;

static int is_separator(Py_UCS4 character) { return character == '\\' || character == '/'; }

/* transforms.basename: ntpath's base name of the path less its trailing separators. Where a drive or UNC prefix
 * could hold the last separator or colon (two leading separators; a colon second and no separator), line.py's. */
static PyObject *path_basename(PyObject *path) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(path), end = length;
    int kind = PyUnicode_KIND(path);
    const void *data = PyUnicode_DATA(path);
    while (end > 0 && is_separator(PyUnicode_READ(kind, data, end - 1))) end--;
    Py_ssize_t start = end;
    while (start > 0 && !is_separator(PyUnicode_READ(kind, data, start - 1))) start--;
    int unc = length >= 2 && is_separator(PyUnicode_READ(kind, data, 0)) && is_separator(PyUnicode_READ(kind, data, 1));
    int drive_relative = start == 0 && length >= 2 && PyUnicode_READ(kind, data, 1) == ':';
    if (unc || drive_relative) return PyObject_CallOneArg(basename_of, path);
    return PyUnicode_Substring(path, start, end);
}

/* ',"name":path,"base":its base name', or nothing for an absent path */
static int put_path(Line *line, const char *name, Py_ssize_t name_length, const char *base, Py_ssize_t base_length,
                    PyObject *path) {
    if (absent(path)) return 0;
    if (put(line, name, name_length)) return -1;
    int status = put_string(line, path); /* declines a path that is not a str, before its base name is read */
    if (status) return status;
    if (put(line, base, base_length)) return -1;
    PyObject *base_name = path_basename(path);
    if (base_name == NULL) return -1;
    status = put_string(line, base_name);
    Py_DECREF(base_name);
    return status;
}

#define PATH(line, name, base, path) put_path(line, name, sizeof(name) - 1, base, sizeof(base) - 1, path)

/* The bytes a piece of line.py gave (a new reference, or NULL on its error) */
static int put_piece(Line *line, PyObject *piece) {
    if (piece == NULL) return -1;
    int status = PyBytes_CheckExact(piece) ? put(line, PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece)) : DECLINED;
    Py_DECREF(piece);
    return status;
}

/* ',"label":"<record id>"' as session_record writes it, or nothing without one */
static int put_record_id(Line *line, const char *label, Py_ssize_t label_length, PyObject *record_id) {
    if (record_id == NULL || record_id == Py_None) return 0;
    if (PyUnicode_CheckExact(record_id)) {
        if (PyUnicode_GET_LENGTH(record_id) == 0) return 0;
        if (put(line, label, label_length)) return -1;
        return put_string(line, record_id);
    }
    long long number;
    int status = as_long_long(record_id, &number);
    if (status) return status;
    if (put(line, label, label_length)) return -1;
    if (PUT(line, "\"") || put_number(line, number, 10)) return -1;
    return PUT(line, "\"");
}

#define RECORD_ID(line, label, record_id) put_record_id(line, label, sizeof(label) - 1, record_id)

static PyObject *SUBJECT_SID, *SUBJECT_NAME, *SUBJECT_DOMAIN, *SUBJECT_LOGON, *PROCESS_NAME, *RECORD_ID_NAME;
static PyObject *DATA, *SYSTEM;

#define CHECK(expression)              \
    do {                               \
        int status_ = (expression);    \
        if (status_) return status_;   \
    } while (0)

/* An event's field, or NULL without it (*status -1 when reading it failed) */
static PyObject *field(PyObject *dict, PyObject *name, int *status) {
    PyObject *value = PyDict_GetItemWithError(dict, name);
    if (value == NULL && PyErr_Occurred()) *status = -1;
    return value;
}

/* write(line, dict) of the event's dict ``name``, held while it is read; DECLINED if it is not a dict */
static int with_event_dict(Line *line, PyObject *event, PyObject *name, int (*write)(Line *, PyObject *)) {
    PyObject *dict = PyObject_GetAttr(event, name);
    if (dict == NULL) return -1;
    int status = PyDict_CheckExact(dict) ? write(line, dict) : DECLINED;
    Py_DECREF(dict);
    return status;
}

static int put_record_id_of(Line *line, PyObject *system) {
    int status = 0;
    PyObject *record_id = field(system, RECORD_ID_NAME, &status);
    return status ? status : RECORD_ID(line, ",\"close_record_id\":", record_id);
}

static int put_close_record_id(Line *line, PyObject *closed) {
    return with_event_dict(line, closed, SYSTEM, put_record_id_of);
}

/* ',"host":…,"process_id":…,"process_id_hex":"0x…","handle_id":…' of the handle's key */
static int put_key(Line *line, PyObject *key) {
    if (!PyTuple_CheckExact(key) || PyTuple_GET_SIZE(key) != 3) return DECLINED;
    PyObject *host = PyTuple_GET_ITEM(key, 0);
    if (host != Py_None) {
        CHECK(PUT(line, ",\"host\":"));
        CHECK(put_string(line, host));
    }
    long long process_id;
    CHECK(as_long_long(PyTuple_GET_ITEM(key, 1), &process_id));
    if (process_id < 0) return DECLINED;
    if (PUT(line, ",\"process_id\":") || put_number(line, process_id, 10) || PUT(line, ",\"process_id_hex\":\"0x")
        || put_number(line, process_id, 16) || PUT(line, "\""))
        return -1;
    CHECK(PUT(line, ",\"handle_id\":"));
    return put_string(line, PyTuple_GET_ITEM(key, 2));
}

/* The close's subject: its user and process */
static int put_subject(Line *line, PyObject *data) {
    int status = 0;
    PyObject *sid = field(data, SUBJECT_SID, &status), *name = field(data, SUBJECT_NAME, &status);
    PyObject *domain = field(data, SUBJECT_DOMAIN, &status), *logon_id = field(data, SUBJECT_LOGON, &status);
    PyObject *process = field(data, PROCESS_NAME, &status);
    CHECK(status);
    CHECK(FIELD(line, ",\"user_sid\":", sid));
    CHECK(FIELD(line, ",\"user_name\":", name));
    CHECK(FIELD(line, ",\"user_domain\":", domain));
    CHECK(FIELD(line, ",\"logon_id\":", logon_id));
    return PATH(line, ",\"process_executable\":", ",\"process_name\":", process);
}

static PyObject *ENDINGS; /* ending → '"ending":"…"' (line.py's) */

/* '"start":…,"end":…,"duration_ns":…,"duration_seconds":…,"ending":…' as far as the handle has them */
static int put_times_and_ending(Line *line, PyObject *opened_ns, PyObject *closed_ns, PyObject *ending) {
    CHECK(TIMED(line, "\"start\":\"", opened_ns));
    CHECK(TIMED(line, "\"end\":\"", closed_ns));
    if (opened_ns != Py_None && closed_ns != Py_None) {
        PyObject *duration = PyNumber_Subtract(closed_ns, opened_ns);
        if (duration == NULL) return -1;
        int status = put_piece(line, PyObject_CallOneArg(duration_piece, duration));
        Py_DECREF(duration);
        CHECK(status);
    }
    PyObject *ending_piece = PyDict_GetItemWithError(ENDINGS, ending);
    if (ending_piece == NULL) return PyErr_Occurred() ? -1 : DECLINED;
    Py_INCREF(ending_piece);
    return put_piece(line, ending_piece);
}

/* A close without an open: its time, the key, the close's subject and record id, nothing of an open */
static int close_without_open(Line *line, PyObject *key, PyObject *closed, PyObject *closed_ns, PyObject *ending) {
    CHECK(PUT(line, "{\"session\":{"));
    CHECK(put_times_and_ending(line, Py_None, closed_ns, ending));
    CHECK(put_key(line, key));
    CHECK(PUT(line, ",\"access_count\":0"));
    CHECK(with_event_dict(line, closed, DATA, put_subject));
    CHECK(put_close_record_id(line, closed));
    return PUT(line, "}}\n");
}

/* ',"user_name":…,"user_domain":…' of 'DOMAIN\name' (record.user_parts) */
static int put_user(Line *line, PyObject *user) {
    if (user == Py_None) return 0;
    if (!PyUnicode_CheckExact(user)) return DECLINED;
    Py_ssize_t length = PyUnicode_GET_LENGTH(user);
    Py_ssize_t separator = PyUnicode_FindChar(user, '\\', 0, length, -1);
    if (separator == -2) return -1;
    PyObject *name = PyUnicode_Substring(user, separator + 1, length);
    PyObject *domain = separator < 0 ? PyUnicode_New(0, 0) : PyUnicode_Substring(user, 0, separator);
    int status = name == NULL || domain == NULL ? -1 : FIELD(line, ",\"user_name\":", name);
    if (status == 0) status = FIELD(line, ",\"user_domain\":", domain);
    Py_XDECREF(name);
    Py_XDECREF(domain);
    return status;
}

static PyObject *call2(PyObject *callable, PyObject *first, PyObject *second) {
    PyObject *arguments[] = {first, second};
    return PyObject_Vectorcall(callable, arguments, 2, NULL);
}

enum { ORIGIN, PROCESS, USER, OBJECT_TYPE, OBJECT_NAME, ACCESS_MASK, OBJECT_SERVER, USER_SID, LOGON_ID, PRIVILEGES,
       OPEN_RECORD_ID, OPENED_FIELDS };

/* The open's subject, object, access and record id */
static int put_opened(Line *line, PyObject *opened, PyObject *access_count, PyObject *used_mask) {
    if (!PyTuple_Check(opened) || PyTuple_GET_SIZE(opened) != OPENED_FIELDS) return DECLINED;
    PyObject *object_type = PyTuple_GET_ITEM(opened, OBJECT_TYPE);
    long long accesses;
    CHECK(as_long_long(access_count, &accesses));
    if (PUT(line, ",\"access_count\":") || put_number(line, accesses, 10)) return -1;
    CHECK(FIELD(line, ",\"user_sid\":", PyTuple_GET_ITEM(opened, USER_SID)));
    CHECK(put_user(line, PyTuple_GET_ITEM(opened, USER)));
    CHECK(FIELD(line, ",\"logon_id\":", PyTuple_GET_ITEM(opened, LOGON_ID)));
    CHECK(PATH(line, ",\"process_executable\":", ",\"process_name\":", PyTuple_GET_ITEM(opened, PROCESS)));
    CHECK(FIELD(line, ",\"object_server\":", PyTuple_GET_ITEM(opened, OBJECT_SERVER)));
    CHECK(FIELD(line, ",\"object_type\":", object_type));
    CHECK(PATH(line, ",\"object_name\":", ",\"object_basename\":", PyTuple_GET_ITEM(opened, OBJECT_NAME)));
    CHECK(put_piece(line, call2(requested_piece, object_type, PyTuple_GET_ITEM(opened, ACCESS_MASK))));
    if (accesses) CHECK(put_piece(line, call2(used_piece, object_type, used_mask)));
    CHECK(put_piece(line, PyObject_GetItem(privileges_piece, PyTuple_GET_ITEM(opened, PRIVILEGES))));
    return RECORD_ID(line, ",\"open_record_id\":", PyTuple_GET_ITEM(opened, OPEN_RECORD_ID));
}

enum { KEY, OPENED, CLOSED, OPENED_NS, CLOSED_NS, ACCESSES, ACCESS_COUNT, USED_MASK, ENDING, LIFETIME_FIELDS };

static int write_line(Line *line, PyObject *lifetime) {
    if (!PyTuple_Check(lifetime) || PyTuple_GET_SIZE(lifetime) != LIFETIME_FIELDS) return DECLINED;
    PyObject *opened = PyTuple_GET_ITEM(lifetime, OPENED), *closed = PyTuple_GET_ITEM(lifetime, CLOSED);
    if (opened == Py_None)
        return close_without_open(line, PyTuple_GET_ITEM(lifetime, KEY), closed, PyTuple_GET_ITEM(lifetime, CLOSED_NS),
                                  PyTuple_GET_ITEM(lifetime, ENDING));
    CHECK(PUT(line, "{\"session\":{"));
    CHECK(put_times_and_ending(line, PyTuple_GET_ITEM(lifetime, OPENED_NS), PyTuple_GET_ITEM(lifetime, CLOSED_NS),
                               PyTuple_GET_ITEM(lifetime, ENDING)));
    CHECK(put_key(line, PyTuple_GET_ITEM(lifetime, KEY)));
    CHECK(put_opened(line, opened, PyTuple_GET_ITEM(lifetime, ACCESS_COUNT), PyTuple_GET_ITEM(lifetime, USED_MASK)));
    if (closed != Py_None) CHECK(put_close_record_id(line, closed));
    return PUT(line, "}}\n");
}

/* session_line(lifetime) -> the line as bytes, or None where line.py must write it */
static PyObject *session_line(PyObject *module, PyObject *lifetime) {
    (void)module;
    if (duration_piece == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "line_compiled.configure() was not called");
        return NULL;
    }
    Line line = {.text = line.local, .length = 0, .capacity = sizeof line.local};
    int status = write_line(&line, lifetime);
    PyObject *result = NULL;
    if (status == 0) {
        result = PyBytes_FromStringAndSize(line.text, line.length);
    } else if (status == DECLINED) {
        result = Py_None;
        Py_INCREF(result);
    }
    if (line.text != line.local) PyMem_Free(line.text);
    return result;
}

/* configure(basename, requested, used, privileges, duration, endings): line.py's pieces for what C leaves to it */
static PyObject *configure(PyObject *module, PyObject *const *arguments, Py_ssize_t count) {
    (void)module;
    PyObject **targets[] = {&basename_of, &requested_piece, &used_piece, &privileges_piece, &duration_piece, &ENDINGS};
    if (count != (Py_ssize_t)(sizeof targets / sizeof *targets) || !PyDict_CheckExact(arguments[5])) {
        PyErr_SetString(PyExc_TypeError, "configure(basename, requested, used, privileges, duration, endings: dict)");
        return NULL;
    }
    for (Py_ssize_t index = 0; index < count; index++) {
        Py_INCREF(arguments[index]);
        Py_XSETREF(*targets[index], arguments[index]);
    }
    Py_RETURN_NONE;
}

static PyMethodDef METHODS[] = {
    {"session_line", session_line, METH_O, "The session line of a Lifetime as bytes, or None: line.py writes it."},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL, "line.py's pieces, once."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, .m_name = "line_compiled", .m_size = -1, .m_methods = METHODS,
};

static PyObject *interned(const char *text, PyObject **name) {
    *name = PyUnicode_InternFromString(text);
    return *name;
}

PyMODINIT_FUNC PyInit_line_compiled(void) {
    if (!interned("SubjectUserSid", &SUBJECT_SID) || !interned("SubjectUserName", &SUBJECT_NAME)
        || !interned("SubjectDomainName", &SUBJECT_DOMAIN) || !interned("SubjectLogonId", &SUBJECT_LOGON)
        || !interned("ProcessName", &PROCESS_NAME) || !interned("EventRecordID", &RECORD_ID_NAME)
        || !interned("data", &DATA) || !interned("system", &SYSTEM))
        return NULL;
    fill_escape_lengths();
    return PyModule_Create(&MODULE);
}
