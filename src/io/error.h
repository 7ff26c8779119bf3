#pragma once
// patchcore::UserError is public API (include/patchcore/error.h); internal code keeps
// including "io/error.h".
#include "patchcore/error.h"
