# SPDX-License-Identifier: MIT
# Build rules for pool/ (included by the top-level Makefile).
