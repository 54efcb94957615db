/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A PKCS#11 module that misbehaves on request, for the tests of tokend's module scanners: it
 * has one empty slot, and on every C_GetSlotList it does what the file named by
 * $FAKE_PKCS11_MODE_FILE says: "ok" (or no file) lists nothing, "hang" never returns (a module
 * stuck in a device), "crash" aborts the process. Only what a scanner's listing calls is there;
 * every other entry point is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static char mode[16];

static void read_mode(void)
{
    const char *path = getenv("FAKE_PKCS11_MODE_FILE");
    FILE *f = path ? fopen(path, "re") : NULL;
    strcpy(mode, "ok");
    if (!f)
        return;
    if (!fgets(mode, sizeof(mode), f))
        strcpy(mode, "ok");
    mode[strcspn(mode, "\n")] = 0;
    fclose(f);
}

static CK_RV fake_initialize(CK_VOID_PTR args)
{
    return CKR_OK;
}

static CK_RV fake_finalize(CK_VOID_PTR reserved)
{
    return CKR_OK;
}

static void pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    memset(field, ' ', size);
    memcpy(field, text, strlen(text) < size ? strlen(text) : size);
}

static CK_RV fake_get_info(CK_INFO_PTR info)
{
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof(info->manufacturerID), "tokend tests");
    pad(info->libraryDescription, sizeof(info->libraryDescription), "misbehaving module");
    return CKR_OK;
}

static CK_RV fake_get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    read_mode();
    if (strcmp(mode, "hang") == 0)
        for (;;)
            pause();
    if (strcmp(mode, "crash") == 0)
        abort();
    if (list && *count < 1)
        return CKR_BUFFER_TOO_SMALL;
    if (list)
        list[0] = 0;
    *count = 1;
    return CKR_OK;
}

static CK_RV fake_get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    if (slot != 0)
        return CKR_SLOT_ID_INVALID;
    memset(info, 0, sizeof(*info));
    pad(info->slotDescription, sizeof(info->slotDescription), "empty slot");
    pad(info->manufacturerID, sizeof(info->manufacturerID), "tokend tests");
    info->flags = CKF_REMOVABLE_DEVICE;
    return CKR_OK;
}

static CK_RV fake_get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    return slot == 0 ? CKR_TOKEN_NOT_PRESENT : CKR_SLOT_ID_INVALID;
}

static CK_RV fake_close_all_sessions(CK_SLOT_ID slot)
{
    return CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static CK_FUNCTION_LIST functions = {
    .version = {2, 40},
    .C_Initialize = fake_initialize,
    .C_Finalize = fake_finalize,
    .C_GetInfo = fake_get_info,
    .C_GetSlotList = fake_get_slot_list,
    .C_GetSlotInfo = fake_get_slot_info,
    .C_GetTokenInfo = fake_get_token_info,
    .C_CloseAllSessions = fake_close_all_sessions,
    .C_GetFunctionList = C_GetFunctionList,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    *list = &functions;
    return CKR_OK;
}
