# The shell peer's handler (_HANDLER=function.handler): echo the event back unchanged.
handler () {
  EVENT_DATA=$1
  printf '%s' "$EVENT_DATA"
}
