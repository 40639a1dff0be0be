"""A stand-in for the parts of torch that moe_runtime.torch_ops reads when
it is imported and when it checks its arguments (dtypes, custom_op and
register_fake, Tensor for annotations), so that the op's argument checks
and layer specs are tested without torch and without a GPU. Nothing here
computes: a test that reaches a launch fails."""


class dtype:
    def __init__(self, name, is_floating_point):
        self.name, self.is_floating_point = name, is_floating_point

    def __repr__(self):
        return "torch." + self.name


bfloat16 = dtype("bfloat16", True)
float16 = dtype("float16", True)
float32 = dtype("float32", True)
float8_e4m3fn = dtype("float8_e4m3fn", True)
int32 = dtype("int32", False)
int64 = dtype("int64", False)
uint8 = dtype("uint8", False)


class Tensor:
    """Shape and dtype only."""

    def __init__(self, shape, dtype_):
        self.shape, self.dtype = tuple(shape), dtype_

    def dim(self):
        return len(self.shape)


class _Op:
    def __init__(self, fn):
        self.fn, self.fake = fn, None

    def register_fake(self, fn):
        self.fake = fn
        return fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


class library:
    @staticmethod
    def custom_op(name, mutates_args=(), device_types=None):
        return _Op
