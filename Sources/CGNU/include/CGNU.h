#ifndef CGNU_H
#define CGNU_H
#include <spawn.h>

// glibc's GNU extensions that Swift's Glibc module does not expose (they need _GNU_SOURCE).

/// Adds "close every descriptor from `lowest` up" to spawn file actions (glibc 2.34+).
int cgnu_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

/// Names the calling thread for the OS (`top -H`, `/proc/self/task/*/comm`); the kernel keeps 15 bytes, so a
/// longer name is cut there rather than refused.
void cgnu_name_this_thread(const char *name);

#endif
