/* A probe of the layer rule (docs/HACKING.md, tests/CMakeLists.txt): compiled with the include
 * path of one part of liblac, it includes PROBE_HEADER. A header of a part below must be found;
 * one of a part above (or beside) must not. */
#include PROBE_HEADER

int lac_layering_probe(void);
int lac_layering_probe(void) { return 0; }
