// See context.h: ProcessGroupGloo.hpp includes this header but uses nothing of it.
#pragma once
