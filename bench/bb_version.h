/* bb_version.h — build identity: compiler, build type and flags (bb_build.h, from
 * meson configure) and the git commit (bb_git.h, from vcs_tag). */
#pragma once
#include "bb_build.h"
#include "bb_git.h"
