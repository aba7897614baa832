/* liblac.so is the static liblac.a linked whole (CMakeLists.txt, lac_shared); CMake wants one
 * source of its own. Exports nothing. */
#include "lac.h"
typedef int lac_shared_translation_unit;
