/** Room numbers are what callers key on the phone: 1 to `maxDigits` decimal digits. */
export function isValidRoomNumber(value: unknown, maxDigits: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= maxDigits && /^[0-9]+$/.test(value);
}
