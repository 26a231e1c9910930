/** Switches to the terminal's alternate screen, as htop and less do: the shell's screen comes back on exit. */
const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';
const CLEAR_AND_HOME = '\u001B[2J\u001B[H';

/** Enters the alternate screen; the function returned leaves it, once, however the view ends. */
export function enterAlternateScreen(stdout: NodeJS.WritableStream): () => void {
  stdout.write(ENTER_ALTERNATE_SCREEN + CLEAR_AND_HOME);
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    process.off('exit', leave);
    stdout.write(LEAVE_ALTERNATE_SCREEN);
  };
  process.once('exit', leave);
  return leave;
}
