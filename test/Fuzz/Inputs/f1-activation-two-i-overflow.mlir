func.func @f(%h: tensor<?x?xbf16>) {
  %a = moe.activation swiglu(concat) %h : (tensor<?x?xbf16>) -> tensor<?x4611686018427387904xbf16>
  return
}
