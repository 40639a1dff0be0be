/*===- MoERuntime.h - C API of the MoE kernel runtime ------------*- C -*-===//
 *
 * Part of the MoE compiler project, under the Apache License v2.0 with LLVM
 * Exceptions.
 *
 *===----------------------------------------------------------------------===//
 *
 * The contract between compiled MoE kernels and the programs that launch them.
 * A compiled kernel is an artifact: a manifest.json (schema: docs/Manifest.md)
 * next to a cubin. The runtime loads it onto one device, checks every call's
 * arguments against the manifest, builds the TMA descriptors on the host
 * (cuTensorMapEncodeTiled) and launches with cuLaunchKernelEx.
 *
 * Rules of the API:
 *  - Every symbol starts with `moeRt` (`MOE_RT_` for macros and constants).
 *  - Every entry point returns a moeRtStatus; nothing throws across it.
 *    moeRtGetLastError() gives the message of the last call made on the
 *    calling thread that failed, with context (the argument, the expected and
 *    the actual value); a call that succeeds clears it.
 *  - The CUDA driver is loaded at run time (dlopen "libcuda.so.1"). Parsing,
 *    argument description and validation work without a GPU or a driver
 *    (moeRtKernelCreateUnloaded); loading and launching need both.
 *  - Shapes and strides are counted in elements; for f4E2M1FN (two values per
 *    byte, the low nibble first) in 4-bit elements, so the innermost dim of an
 *    f4E2M1FN tensor is even and its byte strides are strides / 2.
 *  - A launch does no host synchronization and allocates nothing, so it can
 *    be captured in a CUDA graph; T is then fixed at capture.
 *  - A few device-memory calls (moeRtDeviceAlloc, moeRtCopyToDevice, ...)
 *    let programs without a framework allocate, fill and read tensors.
 *  - Expert parallelism over NVLink: symmetric buffers (one buffer per rank,
 *    each mapped on every rank's GPU) and wait records, in which a kernel
 *    that gave up waiting for another GPU says why before it traps
 *    (docs/ExpertParallelRuntime.md).
 *
 *===----------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_MOERUNTIME_H
#define MOE_RUNTIME_MOERUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define MOE_RT_API
#else
#define MOE_RT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// Bumped whenever a struct or a signature below changes.
#define MOE_RT_ABI_VERSION 1

/// The highest tensor rank that an argument may have.
#define MOE_RT_MAX_RANK 8

/// In moeRtTensorInfo::shape: this dim is the dynamic token count T.
#define MOE_RT_DIM_T (-1)

/// In moeRtTensorArg::device: the tensor is in host memory.
#define MOE_RT_DEVICE_HOST (-1)

/// In moeRtLaunchConfig::numTokens: take T from the tensor arguments.
#define MOE_RT_INFER_TOKENS (-1)

/// In moeRtKernelInfo::maxTokens: the manifest sets no bound.
#define MOE_RT_UNBOUNDED_TOKENS (-1)

/// The most ranks (GPUs) of a symmetric buffer.
#define MOE_RT_MAX_RANKS 8

/// moeRtWaitRecord::magic once a kernel has written the record ('MOEW').
#define MOE_RT_WAIT_RECORD_MAGIC 0x4d4f4557u

/// CUstream without including cuda.h (the same type).
typedef struct CUstream_st *moeRtStream;

/// An artifact loaded onto one device, or a manifest alone (unloaded).
typedef struct moeRtKernel_ *moeRtKernel;

typedef enum moeRtStatus {
  MOE_RT_SUCCESS = 0,
  /// A null handle or output pointer, an index out of range, a bad config.
  MOE_RT_ERROR_INVALID_VALUE = 1,
  /// A file of the artifact cannot be read.
  MOE_RT_ERROR_IO = 2,
  /// The manifest is not valid JSON or breaks the schema.
  MOE_RT_ERROR_INVALID_MANIFEST = 3,
  /// libcuda.so.1 cannot be loaded, lacks a function, or cuInit failed.
  MOE_RT_ERROR_DRIVER_UNAVAILABLE = 4,
  /// A CUDA driver call failed (the message names it and its error).
  MOE_RT_ERROR_CUDA = 5,
  /// The device cannot run the artifact (architecture, shared memory, ...).
  MOE_RT_ERROR_UNSUPPORTED_DEVICE = 6,
  /// The manifest's parameter ABI does not match the kernel in the cubin.
  MOE_RT_ERROR_ABI_MISMATCH = 7,
  /// A launch on a kernel created by moeRtKernelCreateUnloaded.
  MOE_RT_ERROR_NOT_LOADED = 8,

  // Argument errors: the call is rejected before anything is launched.
  /// Wrong number of tensor or scalar arguments.
  MOE_RT_ERROR_ARG_COUNT = 10,
  MOE_RT_ERROR_ARG_DTYPE = 11,
  MOE_RT_ERROR_ARG_RANK = 12,
  /// A static dim differs, or a T dim disagrees with T.
  MOE_RT_ERROR_ARG_SHAPE = 13,
  /// The strides are not those of the manifest's layout (row-major).
  MOE_RT_ERROR_ARG_STRIDE = 14,
  /// The base address (or a TMA stride) is not aligned as required.
  MOE_RT_ERROR_ARG_ALIGNMENT = 15,
  /// The tensor is on another device (or in host memory).
  MOE_RT_ERROR_ARG_DEVICE = 16,
  /// A null address for a tensor with elements.
  MOE_RT_ERROR_ARG_NULL = 17,
  /// T is negative, above the manifest's max_tokens, too large for its
  /// parameter type, or cannot be inferred.
  MOE_RT_ERROR_TOKEN_COUNT = 18,
  /// The workspace is missing, too small or misaligned.
  MOE_RT_ERROR_WORKSPACE = 19,
  /// A call-time scalar does not fit its parameter type.
  MOE_RT_ERROR_SCALAR = 20,
  /// A TMA descriptor cannot be encoded for these arguments.
  MOE_RT_ERROR_TENSOR_MAP = 21,
} moeRtStatus;

/// Element types, spelled in the manifest as MLIR does.
typedef enum moeRtDType {
  MOE_RT_DTYPE_INVALID = 0,
  MOE_RT_DTYPE_BF16 = 1,      /* bf16 */
  MOE_RT_DTYPE_F16 = 2,       /* f16 */
  MOE_RT_DTYPE_F32 = 3,       /* f32 */
  MOE_RT_DTYPE_F8E4M3FN = 4,  /* f8E4M3FN */
  MOE_RT_DTYPE_F4E2M1FN = 5,  /* f4E2M1FN, packed two per byte */
  MOE_RT_DTYPE_F8E8M0FNU = 6, /* f8E8M0FNU (UE8M0 scales) */
  MOE_RT_DTYPE_I8 = 7,        /* i8 */
  MOE_RT_DTYPE_UI8 = 8,       /* ui8 */
  MOE_RT_DTYPE_I32 = 9,       /* i32 */
  MOE_RT_DTYPE_I64 = 10,      /* i64 */
} moeRtDType;

/// One tensor argument, as the caller has it. Arguments are passed in the
/// order of the manifest's "tensors" list.
typedef struct moeRtTensorArg {
  uint64_t data;  /* device address (CUdeviceptr); 0 only if no elements */
  int32_t dtype;  /* moeRtDType */
  int32_t rank;   /* 0 .. MOE_RT_MAX_RANK */
  int32_t device; /* CUDA device ordinal, or MOE_RT_DEVICE_HOST */
  int32_t reserved;
  int64_t shape[MOE_RT_MAX_RANK];
  int64_t strides[MOE_RT_MAX_RANK]; /* in elements */
} moeRtTensorArg;

/// Launch flags (moeRtLaunchConfig::flags).
enum {
  /// Ask the driver where each tensor lives (cuPointerGetAttribute) instead
  /// of trusting moeRtTensorArg::device. Costs one driver call per tensor.
  MOE_RT_LAUNCH_CHECK_POINTERS = 1u << 0,
  /// Programmatic dependent launch: the kernel may start before the previous
  /// kernel in the stream ends (it must use griddepcontrol.wait).
  MOE_RT_LAUNCH_PDL = 1u << 1,
};

/// Per-call settings. Initialize with moeRtLaunchConfigInit.
typedef struct moeRtLaunchConfig {
  int64_t numTokens;       /* T, or MOE_RT_INFER_TOKENS */
  uint64_t workspace;      /* device address; needed if workspaceBytes > 0 */
  uint64_t workspaceBytes; /* size of that buffer */
  const int64_t *scalars;  /* call-time scalar parameters, in ABI order */
  int32_t numScalars;
  uint32_t maxSms; /* persistent grids: at most this many CTAs; 0 = SMs */
  uint32_t flags;  /* MOE_RT_LAUNCH_* */
  uint32_t reserved;
} moeRtLaunchConfig;

/// What the manifest says about a kernel. The strings live as long as the
/// kernel handle.
typedef struct moeRtKernelInfo {
  const char *name;
  const char *arch;     /* "sm_90a", "sm_100a", ... */
  const char *compiler; /* the compiler that wrote the artifact */
  const char *contentHash;
  int32_t device;     /* the device ordinal it was loaded or created for */
  int32_t loaded;     /* 1 if it can launch */
  int32_t numTensors; /* tensor arguments of moeRtLaunch */
  int32_t numParams;  /* kernel parameters (the ABI) */
  int32_t numScalars; /* call-time scalars of moeRtLaunchConfig */
  int32_t persistentGrid;
  /* Fixed grid; persistent: if loaded, the primary kernel's grid (the SM
     count in whole clusters, at most the CTAs of its co-resident clusters),
     else 0. */
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t cluster[3];       /* the primary kernel's; variants have their own */
  uint32_t dynamicSmemBytes; /* the primary kernel's */
  uint64_t workspaceBytes;
  int64_t maxTokens; /* MOE_RT_UNBOUNDED_TOKENS if unbounded */
  int32_t numSms;    /* of the device, if loaded; else 0 */
  /* Bytes at the start of the workspace that each launch zeroes (the
     manifest's workspace_zero_bytes). Was the padding field `reserved`,
     always 0: the layout is unchanged, and a library older than this field
     reports 0 and zeroes nothing. */
  uint32_t workspaceZeroBytes;
} moeRtKernelInfo;

/// Tensor roles (moeRtTensorInfo::role).
enum { MOE_RT_ROLE_INPUT = 0, MOE_RT_ROLE_OUTPUT = 1, MOE_RT_ROLE_INOUT = 2 };

/// What the manifest says about one tensor argument.
typedef struct moeRtTensorInfo {
  const char *name;
  int32_t dtype; /* moeRtDType */
  int32_t rank;
  int64_t shape[MOE_RT_MAX_RANK]; /* MOE_RT_DIM_T for the dynamic dim */
  uint32_t alignment;             /* bytes */
  int32_t role;                   /* MOE_RT_ROLE_* */
} moeRtTensorInfo;

//===----------------------------------------------------------------------===//
// Errors and names
//===----------------------------------------------------------------------===//

/// The message of the last failed call on this thread ("" if the last call
/// succeeded). Valid until the next call on this thread.
MOE_RT_API const char *moeRtGetLastError(void);
/// "MOE_RT_ERROR_ARG_DTYPE", ...; "unknown" for other values.
MOE_RT_API const char *moeRtStatusName(int32_t status);
/// MLIR spelling ("bf16", "f8E4M3FN", ...); "invalid" for other values.
MOE_RT_API const char *moeRtDTypeName(int32_t dtype);
/// The dtype of an MLIR spelling, or MOE_RT_DTYPE_INVALID.
MOE_RT_API int32_t moeRtDTypeFromName(const char *name);
/// Bits per element (4 for f4E2M1FN); 0 for an invalid dtype.
MOE_RT_API int32_t moeRtDTypeBits(int32_t dtype);
/// MOE_RT_ABI_VERSION of the library (compare with the header's).
MOE_RT_API int32_t moeRtGetAbiVersion(void);

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

/// Loads `dir`/manifest.json and the cubin it names onto device `device`
/// (the primary context of that device is retained until unload).
MOE_RT_API moeRtStatus moeRtLoadArtifact(const char *dir, int32_t device,
                                         moeRtKernel *kernel);

/// The same from memory: the manifest's JSON text and the cubin image (a PTX
/// image, NUL-terminated, also works; the driver then compiles it).
MOE_RT_API moeRtStatus moeRtLoadArtifactFromMemory(
    const char *manifestJson, size_t manifestSize, const void *image,
    size_t imageSize, int32_t device, moeRtKernel *kernel);

/// A kernel handle holding only the manifest, for `device`: info and
/// validation work, launch fails with MOE_RT_ERROR_NOT_LOADED. Needs no
/// driver.
MOE_RT_API moeRtStatus moeRtKernelCreateUnloaded(const char *manifestJson,
                                                 size_t manifestSize,
                                                 int32_t device,
                                                 moeRtKernel *kernel);

/// Unloads the module and releases the context. Accepts null.
MOE_RT_API moeRtStatus moeRtUnload(moeRtKernel kernel);

//===----------------------------------------------------------------------===//
// Queries
//===----------------------------------------------------------------------===//

MOE_RT_API moeRtStatus moeRtKernelGetInfo(moeRtKernel kernel,
                                          moeRtKernelInfo *info);
MOE_RT_API moeRtStatus moeRtKernelGetTensorInfo(moeRtKernel kernel,
                                                int32_t index,
                                                moeRtTensorInfo *info);

/// The kernel that a launch with `numTokens` tokens runs: the manifest's
/// "kernel", or the first of its "variants" whose token range holds T
/// (docs/Manifest.md). The string lives as long as the kernel handle. Needs
/// no driver.
MOE_RT_API moeRtStatus moeRtKernelSelect(moeRtKernel kernel, int64_t numTokens,
                                         const char **kernelName);

//===----------------------------------------------------------------------===//
// Arguments and launch
//===----------------------------------------------------------------------===//

/// Sets the defaults: T inferred, no workspace, no scalars, all SMs, no flags.
MOE_RT_API void moeRtLaunchConfigInit(moeRtLaunchConfig *config);

/// A contiguous row-major description of `data` (strides computed).
MOE_RT_API moeRtStatus moeRtTensorArgInit(moeRtTensorArg *arg, uint64_t data,
                                          int32_t dtype, int32_t rank,
                                          const int64_t *shape, int32_t device);

/// Checks `args` (and the config: T, workspace, scalars) against the
/// manifest without launching (nor zeroing the workspace). On success stores T
/// in *numTokens (if not null; 0 if the kernel has no T). `config` may be null
/// (the defaults).
MOE_RT_API moeRtStatus moeRtValidateArgs(moeRtKernel kernel,
                                         const moeRtTensorArg *args,
                                         int32_t numArgs,
                                         const moeRtLaunchConfig *config,
                                         int64_t *numTokens);

/// Validates, encodes the TMA descriptors, zeroes the first
/// workspace_zero_bytes bytes of config->workspace (manifest; a memset on
/// `stream`, before the kernel) and launches on `stream` (the kernel's
/// device must own it). Launches and zeroes nothing if a check fails (the
/// arguments, the grid, a descriptor), and nothing if T = 0 (every T-sized
/// tensor is then empty). `config` may be null. Asynchronous: returns once
/// the memset and the launch are queued.
MOE_RT_API moeRtStatus moeRtLaunch(moeRtKernel kernel,
                                   const moeRtTensorArg *args, int32_t numArgs,
                                   const moeRtLaunchConfig *config,
                                   moeRtStream stream);

//===----------------------------------------------------------------------===//
// Device memory
//===----------------------------------------------------------------------===//
//
// Enough to run a kernel from C or C++ without a framework (moe-run --gpu
// does). Each call works in the primary context of `device`, which the first
// of these calls on a device retains and which stays retained until the
// process ends (so the memory outlives any kernel handle); the caller's
// current context is left as it was. Copies and the memset use the legacy
// default stream, as moeRtLaunch(..., stream = NULL) does, so they are
// ordered with such launches. Sizes are in bytes unless stated; a call with
// nothing to do (0 bytes) succeeds without touching the driver.

/// Allocates `bytes` of device memory (cuMemAlloc: 256-byte aligned) and
/// stores its address in *ptr (0 if bytes is 0).
MOE_RT_API moeRtStatus moeRtDeviceAlloc(int32_t device, uint64_t bytes,
                                        uint64_t *ptr);

/// Frees memory of moeRtDeviceAlloc. Accepts 0.
MOE_RT_API moeRtStatus moeRtDeviceFree(int32_t device, uint64_t ptr);

/// Copies `bytes` from host memory `src` to device address `dst`. Returns
/// once `src` may be reused.
MOE_RT_API moeRtStatus moeRtCopyToDevice(int32_t device, uint64_t dst,
                                         const void *src, uint64_t bytes);

/// Copies `bytes` from device address `src` to host memory `dst`, after the
/// work queued before it on the default stream (launches included) is done.
/// Synchronous: the data is in `dst` when it returns.
MOE_RT_API moeRtStatus moeRtCopyFromDevice(int32_t device, void *dst,
                                           uint64_t src, uint64_t bytes);

/// Sets `count` 16-bit values at `dst` (2-byte aligned) to `value`, e.g.
/// 0xFFFF, a bf16 NaN, to poison an output. Asynchronous on the default
/// stream.
MOE_RT_API moeRtStatus moeRtDeviceMemsetD16(int32_t device, uint64_t dst,
                                            uint16_t value, uint64_t count);

/// Waits for all work on `device` (cuCtxSynchronize in its primary
/// context); a failed launch reports its error here.
MOE_RT_API moeRtStatus moeRtDeviceSynchronize(int32_t device);

//===----------------------------------------------------------------------===//
// Expert parallelism: symmetric buffers
//===----------------------------------------------------------------------===//
//
// A symmetric buffer is one buffer of the same size per rank, rank r's in
// the memory of GPU devices[r], each mapped into every rank's GPU so that a
// kernel on any of them loads and stores any rank's buffer through ptrs[r]
// (NVLink peer access). ptrs[r] is a device address: the same on every
// device of the buffer, not one that the host can dereference.
//
// moeRtSymmetricCreate serves one process that drives several GPUs: it
// allocates with the driver's virtual memory management (cuMemCreate,
// cuMemAddressReserve, cuMemMap, cuMemSetAccess for every device). With one
// process per GPU each process only sees its own allocation: map the
// buffers with another engine (torch.distributed._symmetric_memory's
// rendezvous gives buffer_ptrs, NVSHMEM gives nvshmem_ptr) and describe
// them with moeRtSymmetricFromPointers. The runtime never creates NVLink
// multicast objects.

/// A symmetric buffer over 1 .. MOE_RT_MAX_RANKS ranks.
typedef struct moeRtSymmetric_ *moeRtSymmetric;

/// What moeRtSymmetricGetInfo reports. Entries at and above numRanks are 0.
typedef struct moeRtSymmetricInfo {
  int32_t numRanks;
  int32_t owned;  /* 1 if moeRtSymmetricCreate allocated the buffers */
  uint64_t bytes; /* of each rank's buffer, as requested */
  uint64_t ptrs[MOE_RT_MAX_RANKS];   /* rank r's buffer (device address) */
  int32_t devices[MOE_RT_MAX_RANKS]; /* the device ordinal that holds it */
} moeRtSymmetricInfo;

/// Allocates `bytes` on each of devices[0 .. numRanks) (rounded up to the
/// driver's recommended allocation granularity, 2 MiB on an H200), maps every
/// rank's buffer with read/write access for every device of `devices`, and
/// zeroes them all (synchronously: set-up time, not launch time). Each
/// allocation asks to be exportable as a POSIX file descriptor and falls
/// back to a plain one where the driver refuses.
///
/// Rejected before the driver is loaded (MOE_RT_ERROR_INVALID_VALUE): a null
/// `out` or `devices`, numRanks outside [1, MOE_RT_MAX_RANKS], a negative or
/// repeated device, bytes = 0. Then, with the driver: a device that does not
/// exist (INVALID_VALUE), one without virtual memory management, or a pair of
/// devices that cannot access each other's memory (cuDeviceCanAccessPeer;
/// MOE_RT_ERROR_UNSUPPORTED_DEVICE, the message names the pair). On failure
/// nothing stays allocated and *out is null. Works in the primary context of
/// each device (retained as moeRtDeviceAlloc does).
MOE_RT_API moeRtStatus moeRtSymmetricCreate(const int32_t *devices,
                                            int32_t numRanks, uint64_t bytes,
                                            moeRtSymmetric *out);

/// Describes buffers that another engine mapped (ptrs[r] on devices[r], each
/// `bytes` long and reachable from every device); nothing is allocated, and
/// moeRtSymmetricDestroy frees nothing but the handle. Checks the arguments
/// as moeRtSymmetricCreate does before the driver, and each pointer: not 0,
/// 16-byte aligned, distinct. Needs no driver.
MOE_RT_API moeRtStatus moeRtSymmetricFromPointers(const uint64_t *ptrs,
                                                  const int32_t *devices,
                                                  int32_t numRanks,
                                                  uint64_t bytes,
                                                  moeRtSymmetric *out);

/// The ranks, devices and addresses of a symmetric buffer. Needs no driver.
MOE_RT_API moeRtStatus moeRtSymmetricGetInfo(moeRtSymmetric symmetric,
                                             moeRtSymmetricInfo *out);

/// Frees the handle; for a buffer of moeRtSymmetricCreate it first waits for
/// the work on every device of the buffer (cuCtxSynchronize), then unmaps,
/// releases and frees the address ranges. Accepts null. The handle is freed
/// even when a driver call fails (the first failure is reported).
MOE_RT_API moeRtStatus moeRtSymmetricDestroy(moeRtSymmetric symmetric);

//===----------------------------------------------------------------------===//
// Expert parallelism: wait records
//===----------------------------------------------------------------------===//
//
// A kernel that waits for another GPU (a counter in a symmetric buffer)
// spins with a bounded timeout. When it expires, one thread fills a wait
// record (the fields, then __threadfence_system(), then magic) and executes
// `trap`. A trap leaves the CUDA context unusable, so the record lives in
// host memory mapped into the device (pinned, portable, device-mapped):
// the host reads it after the failure, with no driver call.

/// Written by the kernel; all zero until then. 48 bytes, no padding.
typedef struct moeRtWaitRecord {
  uint32_t magic;     /* MOE_RT_WAIT_RECORD_MAGIC once written */
  uint32_t rank;      /* the rank whose wait expired */
  uint32_t phase;     /* which wait: a code the kernel's manifest names */
  uint32_t block;     /* blockIdx.x of the waiting thread */
  uint64_t counter;   /* device address of the counter */
  uint64_t value;     /* the counter's last value seen */
  uint64_t target;    /* the value waited for */
  uint64_t elapsedNs; /* %globaltimer difference when it gave up */
} moeRtWaitRecord;

/// Allocates a zero-filled record (cuMemHostAlloc with DEVICEMAP and
/// PORTABLE: usable from every device) and stores its host address in
/// *hostRecord and the address for kernels in *devicePtr. Works in the
/// primary context of the calling thread's current device (device 0 if no
/// context is current), which stays retained as moeRtDeviceAlloc's does.
MOE_RT_API moeRtStatus moeRtWaitRecordCreate(moeRtWaitRecord **hostRecord,
                                             uint64_t *devicePtr);

/// Frees a record of moeRtWaitRecordCreate. Accepts null; rejects a pointer
/// that moeRtWaitRecordCreate did not return (or that was freed).
MOE_RT_API moeRtStatus moeRtWaitRecordDestroy(moeRtWaitRecord *hostRecord);

/// Writes what `record` says into `message` (NUL-terminated, truncated to
/// messageBytes - 1 characters): "" if the kernel did not write it (magic
/// unset), else e.g. "rank 1 timed out in phase 2 ('dispatch: counts') after
/// 30.0 s: counter 0x7f0000001000 = 3, waited for >= 4 (block 17)". The
/// phase is named by phaseNames[phase] if phase < numPhaseNames and that
/// name is not null (phaseNames may be null with numPhaseNames = 0). The
/// time is in s from 1 s on, else in ms or ns. Pure host code: works on any
/// record (one read back after a failure, or a copy), with no driver.
MOE_RT_API moeRtStatus moeRtWaitRecordDescribe(const moeRtWaitRecord *record,
                                               const char *const *phaseNames,
                                               int32_t numPhaseNames,
                                               char *message,
                                               uint64_t messageBytes);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // MOE_RUNTIME_MOERUNTIME_H
