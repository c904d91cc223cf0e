// Sees only the declaration, so Holder<int>::value stays undefined here.
template <class T> struct Holder { static int value; };
int consumer_unique() { return Holder<int>::value; }
