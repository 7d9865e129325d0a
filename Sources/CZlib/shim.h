// zlib, from the system (Debian: zlib1g-dev). Used for deflate streams in zip, npz and PNG files.
#include <zlib.h>
