/** India's 28 states and 8 union territories (the sign-up's `state`; the API normalises it). */
export const STATES = [
  "Andhra Pradesh", "Arunachal Pradesh", "Assam", "Bihar", "Chhattisgarh", "Goa", "Gujarat",
  "Haryana", "Himachal Pradesh", "Jharkhand", "Karnataka", "Kerala", "Madhya Pradesh",
  "Maharashtra", "Manipur", "Meghalaya", "Mizoram", "Nagaland", "Odisha", "Punjab", "Rajasthan",
  "Sikkim", "Tamil Nadu", "Telangana", "Tripura", "Uttar Pradesh", "Uttarakhand", "West Bengal",
];
export const UNION_TERRITORIES = [
  "Andaman and Nicobar Islands", "Chandigarh", "Dadra and Nagar Haveli and Daman and Diu",
  "Delhi", "Jammu and Kashmir", "Ladakh", "Lakshadweep", "Puducherry",
];

/** "98765 43210" or "+91 9876543210" -> "+919876543210"; anything else is returned trimmed. */
export function indianMobile(input: string): string {
  const digits = input.replace(/[\s-]/g, "").replace(/^\+?91(?=\d{10}$)/, "");
  return /^\d{10}$/.test(digits) ? `+91${digits}` : input.trim();
}
