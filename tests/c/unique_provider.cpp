// A static data member of a class template: g++ emits it as STB_GNU_UNIQUE.
template <class T> struct Holder { static int value; };
template <class T> int Holder<T>::value = 42;
int touch_unique() { return Holder<int>::value; }
