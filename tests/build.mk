# SPDX-License-Identifier: MIT
# Build rules for tests/ (included by the top-level Makefile).
