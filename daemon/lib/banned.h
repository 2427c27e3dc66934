/*
 * banned.h: functions that make unbounded writes or hide errors are
 * poisoned, so using one is a compile error. Use str_lcpy, str_printf,
 * xasprintf and str_to_u64 instead.
 */
#ifndef FACTEUR_BANNED_H
#define FACTEUR_BANNED_H

#pragma GCC poison strcpy strcat sprintf vsprintf strncpy strncat strtok atoi atol gets

#endif
