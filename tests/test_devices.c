/* test_devices.c: placeholder until the devices suite lands. */
#include "testutil.h"

Suite *suite_devices(void) { return suite_create("devices"); }
