#ifndef CSPAWN_H
#define CSPAWN_H
#include <spawn.h>

/// Adds "close every descriptor from `lowest` up" to spawn file actions (glibc 2.34+, a GNU extension that
/// Swift's Glibc module does not expose).
int cspawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

#endif
