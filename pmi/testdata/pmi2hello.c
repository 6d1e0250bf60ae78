/* PMI-2 client test through Slurm's libpmi2 (a third-party PMI-2 wire
 * client): put a key, fence, read every rank's key and the process
 * mapping. Rank 0 prints "size=N ok mapping=M"; any error exits non-zero. */
#include <slurm/pmi2.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    int spawned, size, rank, appnum, len, found, r;
    char jobid[PMI2_MAX_VALLEN], key[PMI2_MAX_KEYLEN], want[PMI2_MAX_VALLEN];
    char val[PMI2_MAX_VALLEN], map[PMI2_MAX_VALLEN];

    if (PMI2_Init(&spawned, &size, &rank, &appnum) != PMI2_SUCCESS)
        return 10;
    if (PMI2_Job_GetId(jobid, sizeof(jobid)) != PMI2_SUCCESS)
        return 11;
    snprintf(key, sizeof(key), "key-%d", rank);
    snprintf(val, sizeof(val), "val;%d;%s", rank, jobid);
    if (PMI2_KVS_Put(key, val) != PMI2_SUCCESS)
        return 12;
    if (PMI2_KVS_Fence() != PMI2_SUCCESS)
        return 13;
    for (r = 0; r < size; r++) {
        snprintf(key, sizeof(key), "key-%d", r);
        snprintf(want, sizeof(want), "val;%d;%s", r, jobid);
        if (PMI2_KVS_Get(jobid, r, key, val, sizeof(val), &len) != PMI2_SUCCESS)
            return 14;
        if (strcmp(val, want) != 0) {
            fprintf(stderr, "rank %d: %s = %s, want %s\n", rank, key, val, want);
            return 15;
        }
    }
    if (PMI2_Info_GetJobAttr("PMI_process_mapping", map, sizeof(map), &found) != PMI2_SUCCESS || !found)
        return 16;
    if (rank == 0)
        printf("size=%d ok mapping=%s\n", size, map);
    if (PMI2_Finalize() != PMI2_SUCCESS)
        return 17;
    return 0;
}
